"""Bytes of a text file -> str: UTF-8, UTF-16 with BOM, else GB18030 (a superset of GBK/GB2312)."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.core import messages
from assistant.core.errors import IngestError


def decode_text(data: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK/GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise IngestError(path, *messages.text("file_binary"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        first_bad = e.start
    loose = data.decode("utf-8", errors="replace")
    bad = loose.count("\ufffd")
    if bad <= max(4, len(loose) // 100) and re.search(r"[\u4e00-\u9fff]", loose):
        # Valid UTF-8 but for a few bytes: a damaged or truncated file, not another encoding.
        raise IngestError(path, *messages.text("file_bad_utf8", bad=bad, first=first_bad))
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise IngestError(path, *messages.text("file_not_utf8_or_gbk")) from None
    # GB18030 decodes almost any byte soup; demand that the result is mostly CJK or ASCII ...
    good = sum(1 for ch in text if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    # ... and that its Chinese is everyday Chinese: real GBK text is almost all GB2312 characters, while
    # Big5 or UTF-8 bytes read as GBK land in the rare extension area.
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    common = sum(1 for ch in cjk if _in_gb2312(ch))
    if text and (good / len(text) < 0.9 or (len(cjk) >= 20 and common / len(cjk) < 0.8)):
        raise IngestError(path, *messages.text("file_encoding_unknown"))
    return text


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False
