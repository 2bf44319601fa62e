"""File loaders: bytes on disk -> normalized Document. Each raises IngestError with a one-line fix."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.core.types import Document
from assistant.ingest.chunking import row_line
from assistant.text import normalize
from assistant.text.encoding import decode_text
from assistant.text.structure import CN_NUM, CN_SMALL

MAX_BYTES = 50 * 1024 * 1024


def load_text(path: Path) -> tuple[str, dict]:
    return normalize(decode_text(path.read_bytes(), path)), {}


# Extension -> loader returning (normalized text, extras). Other modules register richer formats.
LOADERS: dict[str, Callable[[Path], tuple[str, dict]]] = {".md": load_text, ".txt": load_text, ".markdown": load_text}


def register(ext: str, fn: Callable[[Path], tuple[str, dict]]) -> None:
    LOADERS[ext.lower()] = fn


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS and not path.name.startswith((".", "~$"))


_VERSION_IN_NAME = re.compile(r"[（(_\-\s]((?:19|20)\d{2})(?:[-.年]\d{1,2}(?:[-.月]\d{1,2}日?)?)?[）)]?$")
_DATE_IN_TEXT = re.compile(r"((?:19|20)\d{2})年(\d{1,2})月(\d{1,2})日")
_REG_TITLE = re.compile(r"(条例|规定|准则|办法|章程|规则|细则|法|决定|意见|通知)(（试行）)?$")
_LIST_WORDS = ("清单", "台账", "责任分工", "任务分解")
_REPORT_WORDS = ("总结", "报告", "汇报", "情况", "述责述廉", "讲话")


_NOT_TITLE = re.compile(rf"^(?:第[{CN_NUM}\d]+[编章节条]|[{CN_SMALL}]+、|（[{CN_SMALL}]+）|\d+[.、．])")


def _first_line_title(text: str) -> str:
    """A plain .txt/.md document's title: its first non-empty line when it reads as one (short, Chinese,
    no sentence punctuation, not a numbered item)."""
    for line in text.split("\n")[:5]:
        line = line.strip()
        if not line:
            continue
        if (4 <= len(line) <= 60 and re.search(r"[\u4e00-\u9fff]", line)
                and not re.search(r"[。；，？！：:]", line) and not _NOT_TITLE.match(line)):
            return line
        return ""
    return ""


def detect_title(text: str, path: Path) -> str:
    for line in text.split("\n")[:5]:
        if line.startswith("# "):
            return line[2:].strip()
    if path.suffix.lower() in (".txt", ".md"):
        first = _first_line_title(text)
        if first:
            return first
    stem = _VERSION_IN_NAME.sub("", path.stem).strip()
    return stem or path.stem


def detect_version(text: str, path: Path) -> str:
    m = _VERSION_IN_NAME.search(path.stem)
    if m:
        return m.group(1)
    head = "\n".join(text.split("\n")[:8])
    m = _DATE_IN_TEXT.search(head)
    return m.group(1) if m else ""


def detect_kind(text: str, title: str, path: Path, extras: dict) -> str:
    parts = {p.lower() for p in path.parts}
    rows = extras.get("rows")
    if rows:
        # A spreadsheet is a list; a Word/HTML file is one when its tables carry most of the text.
        row_chars = sum(len(row_line(r)) for r in rows)
        if extras.get("tabular") or row_chars >= 0.6 * len(text) or any(w in title for w in _LIST_WORDS):
            return "list"
    if parts & {"regulations", "laws", "法规", "制度"}:
        return "regulation"
    if parts & {"lists", "清单"}:
        return "list"
    if parts & {"reports", "报告"}:
        return "report"
    articles = sum(1 for line in text.split("\n") if re.match(r"^第[一二三四五六七八九十百千零〇\d]+条", line))
    if articles >= 3 or (articles >= 1 and _REG_TITLE.search(title)):
        return "regulation"
    if any(w in title for w in _LIST_WORDS):
        return "list"
    if any(w in title for w in _REPORT_WORDS):
        return "report"
    return "other"


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_size(path: Path) -> None:
    """Refuse missing, empty and over-large files before anything reads them."""
    if not path.is_file():
        raise IngestError(path, "不存在或不是文件", "检查路径")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(path, "是空文件（0 字节）", "删除它或补上内容")
    if size > MAX_BYTES:
        raise IngestError(path, f"有 {size / 2**20:.0f} MiB，超过 {MAX_BYTES // 2**20} MiB 的上限", "拆分成较小的文件")


def load_document(path: Path, root: Path, kind: str = "") -> Document:
    """Load one file into a Document. Raises IngestError (one line, with the fix) on bad input."""
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    check_size(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        exts = " ".join(sorted(LOADERS))
        raise IngestError(path, f"文件类型 {path.suffix or '（无扩展名）'} 不受支持", f"转换为以下类型之一：{exts}")
    text, extras = loader(path)
    if not text.strip():
        raise IngestError(path, "没有文字内容", "检查文件；扫描件请换一份更清晰、端正的（300 dpi 以上）")
    title = extras.get("title") or detect_title(text, path)
    kind = kind or extras.get("kind") or detect_kind(text, title, Path(rel), extras)
    return Document(
        doc_id=hashlib.sha1(rel.encode("utf-8")).hexdigest()[:12],
        title=title,
        text=text,
        kind=kind,
        source=rel,
        # A date inside a table is a deadline, not the document's version; only the file name counts there.
        version=extras.get("version") or detect_version("" if extras.get("tabular") else text, path),
        rows=tuple(extras.get("rows", ())),
        sheet_rows=tuple(extras.get("sheet_rows", ())),
        warnings=tuple(extras.get("warnings", ())),
        ocr_pages=tuple((int(n), float(c)) for n, c in extras.get("ocr_pages", ())),
    )


def _register_builtin() -> None:
    """Office, PDF, spreadsheet and HTML loaders live in their own modules; importing this one registers them all."""
    from assistant.ingest import html, office, pdf, tables

    for ext, fn in {
        ".docx": office.load_docx,
        ".doc": office.load_legacy_word,
        ".wps": office.load_legacy_word,
        ".pdf": pdf.load_pdf,
        ".xlsx": tables.load_xlsx,
        ".xlsm": tables.load_xlsx,
        ".xls": tables.load_xls,
        ".csv": tables.load_csv,
        ".html": html.load_html,
        ".htm": html.load_html,
        # Scans and photos of pages, read by OCR (ocr.py, the models inside rapidocr-onnxruntime).
        ".png": pdf.load_image,
        ".jpg": pdf.load_image,
        ".jpeg": pdf.load_image,
        ".tif": pdf.load_image,
        ".tiff": pdf.load_image,
    }.items():
        LOADERS.setdefault(ext, fn)


_register_builtin()
