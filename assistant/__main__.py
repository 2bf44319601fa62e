"""`python -m assistant` is the `assistant` command."""

import sys

from assistant.faces.cli.main import main

sys.exit(main())
