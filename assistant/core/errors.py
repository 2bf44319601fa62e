"""Errors shown to users: one line saying what went wrong and the fix."""

from __future__ import annotations

from pathlib import Path


class AssistantError(Exception):
    """An error shown to the user as one line: what went wrong, and the fix."""

    def __init__(self, message: str, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message}" + (f" — {fix}" if fix else ""))


def one_line(text: str) -> str:
    """A path or name inside a one-line message: a newline or tab in it is shown as \\n or \\t."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def shown_name(path: Path | str) -> str:
    return one_line(Path(path).name)


class IngestError(AssistantError):
    """A file that cannot be ingested; str() is the one-line message naming the file and the fix."""

    def __init__(self, path: Path | str, cause: str, fix: str) -> None:
        self.path = str(path)
        super().__init__(f"{shown_name(path)}: {cause}", fix)
