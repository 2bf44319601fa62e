"""`python -m ingest …` runs `assistant ingest …`."""

import sys

from assistant.faces.cli.main import main

sys.exit(main(["ingest", *sys.argv[1:]]))
