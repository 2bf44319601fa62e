"""`python -m evals …` runs `assistant eval …`."""

import sys

from assistant.faces.cli.main import main

sys.exit(main(["eval", *sys.argv[1:]]))
