"""Where the package's data files live (dictionary, thesaurus, gate, versions) and the project root."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
RESOURCES = PACKAGE / "resources"
# Prompts, evals/sets and knowledge/ sit beside the package in a checkout (the install is editable).
PROJECT_ROOT = PACKAGE.parent
