"""NFKC with full-width Chinese punctuation restored; spaces between CJK characters."""

from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HALF_TO_FULL = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！"}
# ASCII punctuation that touches a CJK character goes back to full width after NFKC folded it.
_PUNCT_AFTER_CJK = re.compile(rf"(?<=[{_CJK}”」』）])([,:;?!])")
_PUNCT_BEFORE_CJK = re.compile(rf"([,:;?!])(?=[{_CJK}“「『（])")
_PAREN = re.compile(rf"\(([^()]{{0,200}}?[{_CJK}][^()]{{0,200}}?)\)")
_SPACES = re.compile(r"[ \t\u00a0]+")
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


def normalize(text: str) -> str:
    """NFKC, then full-width Chinese punctuation, one space at most, no trailing blanks.

    NFKC folds full-width forms (，（）：) to ASCII; Chinese text expects them full-width,
    so punctuation next to CJK and brackets around CJK are restored.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = unicodedata.normalize("NFKC", text)
    text = _PAREN.sub(r"（\1）", text)
    text = _PUNCT_AFTER_CJK.sub(lambda m: _HALF_TO_FULL[m.group(1)], text)
    text = _PUNCT_BEFORE_CJK.sub(lambda m: _HALF_TO_FULL[m.group(1)], text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines)


def squeeze_cjk_spaces(text: str) -> str:
    """Drop spaces between two CJK characters (总　　则 -> 总则) for headings and queries."""
    return _CJK_SPACE.sub("", text)
