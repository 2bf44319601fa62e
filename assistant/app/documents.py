"""Documents facade: what changed between two versions of a regulation, article by article."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.index.versions import Change, compare, render, summary

__all__ = ["Change", "VersionDiff", "diff_versions"]


@dataclass(frozen=True)
class VersionDiff:
    title: str
    old_year: str
    new_year: str
    changes: tuple[Change, ...]
    counts: dict[str, int]
    text: str  # the report `assistant diff` prints


def diff_versions(folder: Path, title: str, old_year: str, new_year: str) -> VersionDiff:
    """Align the two versions of ``title`` found in ``folder`` (renumbered articles matched by content)."""
    changes = compare(Path(folder), title, old_year, new_year)
    return VersionDiff(title, old_year, new_year, tuple(changes), summary(changes), render(changes, title, old_year, new_year))
