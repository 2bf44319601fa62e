"""Sentences of Chinese text: verbatim pieces cut at 。！？； and newlines."""

from __future__ import annotations

import re

_SENT_END = re.compile(r"(?<=[。！？；])|\n+")


def sentences(text: str) -> list[str]:
    """Split into sentences at 。！？； and newlines; each piece is a verbatim substring."""
    return [s for s in (p.strip() for p in _SENT_END.split(text)) if s]
