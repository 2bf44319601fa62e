"""PDF loader: the text layer via pypdf; pages without one are read from their image by OCR (ocr.py), and so are
image files (.png .jpg .tif). A scan in which OCR finds no text is refused with a clear message.

PDF text comes as visual lines; Chinese paragraphs are re-joined where a line does not end a sentence
and the next line does not start a new structural unit (第N条, 一、, （一）…). Page numbers and
running headers/footers repeated on most pages are dropped.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.ingest import ocr
from assistant.text import normalize
from assistant.text.structure import ARTICLE, CN_NUM, DIVISION, H1, H2, H3

MIN_CHARS_PER_PAGE = 20  # below this on average the PDF is a scan with at most a few stray characters
_PAGE_NO = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*/\s*(?:共\s*)?\d{1,4}\s*页?)?[-—–\s]*$")
_ENDS_PARAGRAPH = ("。", "：", ":", "；", "！", "？", "”", "」", "）")
_STARTS_UNIT = re.compile(rf"^(?:第[{CN_NUM}\d]+[编章节条]|[{CN_NUM}]+是|附件|附则)")
_BARE_MARKER = re.compile(rf"^第[{CN_NUM}\d]+条(?:之[{CN_NUM}]+)?$")  # '第一条' left alone on its line


def _starts_unit(line: str) -> bool:
    return bool(_STARTS_UNIT.match(line) or H1.match(line) or H2.match(line) or H3.match(line) or ARTICLE.match(line) or DIVISION.match(line))


def _join_lines(lines: list[str]) -> list[str]:
    """Re-join a paragraph broken across visual lines."""
    out: list[str] = []
    for line in lines:
        if out and _BARE_MARKER.match(out[-1]) and not _starts_unit(line):
            out[-1] = f"{out[-1]} {line}"
        elif out and out[-1] and line and not out[-1].endswith(_ENDS_PARAGRAPH) and not _starts_unit(line) and len(out[-1]) >= 15:
            # Chinese joins without a space; Latin words need one.
            sep = " " if out[-1][-1].isascii() and line[0].isascii() else ""
            out[-1] = out[-1] + sep + line
        else:
            out.append(line)
    return out


def _two_byte_cmaps_as_identity(reader) -> None:
    """pypdf reads 1-byte codes when a Type0 font's /Encoding is an embedded CMap stream (fpdf2 and others
    write one), garbling every character past the 256th glyph. When that CMap's code space is 2 bytes and
    the font has a /ToUnicode map, /Identity-H states the same code width, and text extraction is right."""
    from pypdf.generic import NameObject, StreamObject

    for page in reader.pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            enc = font.get("/Encoding")
            enc = enc.get_object() if enc is not None else None
            if font.get("/Subtype") != "/Type0" or "/ToUnicode" not in font or not isinstance(enc, StreamObject):
                continue
            cmap = enc.get_data().decode("latin-1", "replace")
            m = re.search(r"begincodespacerange(.*?)endcodespacerange", cmap, re.S)
            ranges = re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", m.group(1)) if m else []
            if ranges and all(len(a) == len(b) == 4 for a, b in ranges):
                font[NameObject("/Encoding")] = NameObject("/Identity-H")


def load_pdf(path: Path) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    data = path.read_bytes()
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise IngestError(path, "不是 PDF 文件（缺少 %PDF 文件头）", "检查文件，或改回它真实的扩展名")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # An owner password alone (no user password) decrypts with ""; a user password does not.
            raise IngestError(path, "有密码保护", "用密码打开后另存一份无密码的副本")
        _two_byte_cmaps_as_identity(reader)
        # Some CID-font PDFs still extract with a NUL before every character; NUL is never content.
        pages = [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]
    except IngestError:
        raise
    except FileNotDecryptedError:
        raise IngestError(path, "有密码保护", "用密码打开后另存一份无密码的副本") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise IngestError(path, f"已损坏（{type(e).__name__}: {str(e)[:80]}）", "重新保存或重新导出 PDF") from None
    if not pages:
        raise IngestError(path, "没有页面", "检查文件")
    page_lines = [[ln.strip() for ln in normalize(t).split("\n") if ln.strip()] for t in pages]
    scan = _ocr_scanned_pages(reader, page_lines, ocr.PageCache(data))
    chars = sum(len(line) for lines in page_lines for line in lines)
    if chars < MIN_CHARS_PER_PAGE * len(pages):
        raise _no_text_error(path, len(pages), chars, scan)
    meta_title = ""
    try:
        info = reader.metadata
        meta_title = normalize(str((info.get("/Title") if info else None) or "")).strip()
    except Exception:  # broken metadata must not cost us the text
        meta_title = ""
    if meta_title.lower().startswith(("microsoft", "untitled", "document")) or re.search(r"\.\w{2,4}$", meta_title):
        meta_title = ""  # a word processor's placeholder or a file name, not a title
    text, extras = _assemble(page_lines, meta_title)
    if scan.pages:
        extras["ocr_pages"] = scan.pages
    if scan.unavailable:
        extras["warnings"].append(
            f"有 {scan.tried} 页是扫描页，OCR 组件无法运行（{scan.unavailable}），这些页未收录 — 运行 scripts/setup.sh 重新安装依赖后重新导入"
        )
    return text, extras


@dataclass
class _Scan:
    pages: list[tuple[int, float]] = field(default_factory=list)  # (page number, OCR confidence) of pages read by OCR
    tried: int = 0  # pages without a text layer that hold an image
    undecodable: int = 0  # of those, pages whose image could not be decoded (JBIG2 and the like)
    unavailable: str = ""  # why the OCR engine could not run


def _ocr_scanned_pages(reader, page_lines: list[list[str]], cache: ocr.PageCache) -> _Scan:
    """Pages with (almost) no text layer but an image are OCR'd in place (or taken from ``cache``). page_lines[i]
    becomes the OCR'd text; a few characters of text layer that the OCR'd text does not contain (a cover whose title
    is text and whose letterhead is an image) stay in front of it."""
    scan = _Scan()
    todo = [i for i, lines in enumerate(page_lines) if sum(map(len, lines)) < MIN_CHARS_PER_PAGE]
    todo = [i for i in todo if ocr.page_image_count(reader.pages[i])]
    scan.tried = len(todo)
    try:
        for k, i in enumerate(todo):
            res = cache.get(i + 1)
            image = ocr.page_image(reader.pages[i]) if res is None else None
            if res is None and image is None:
                scan.undecodable += 1
            elif res is None and image is not None:
                try:
                    res = ocr.ocr_image(image)
                except ocr.OcrUnavailable as e:
                    scan.unavailable = str(e)[:100]
                    return scan
                except (OSError, ValueError, SyntaxError):  # a broken image stream
                    scan.undecodable += 1
                else:
                    cache.put(i + 1, res)
            lines = [ln.strip() for ln in normalize(res.text).split("\n") if ln.strip()] if res is not None else []
            if lines and res is not None:
                layer, got = (re.sub(r"\s+", "", "".join(x)) for x in (page_lines[i], lines))
                page_lines[i] = lines if layer in got else [*page_lines[i], *lines]
                scan.pages.append((i + 1, res.confidence))
            ocr.report_page(k + 1, len(todo))
    finally:
        cache.save()  # the pages read so far, even when a later one fails
    return scan


def _no_text_error(path: Path, n_pages: int, chars: int, scan: _Scan) -> IngestError:
    what = f"没有文字层（{n_pages} 页共 {chars} 个字符），像是扫描件"
    if scan.unavailable:
        return IngestError(
            path,
            f"{what}，但 OCR 组件无法运行（{scan.unavailable}）",
            "运行 scripts/setup.sh 重新安装依赖（rapidocr-onnxruntime）后重新导入",
        )
    if scan.tried and scan.undecodable == scan.tried:
        return IngestError(
            path, f"{what}，页面图像的编码无法解码（如 JBIG2）", "用扫描软件另存为普通 PDF（JPEG 图像）或 PNG/TIFF 图片后重新导入"
        )
    if scan.tried:
        return IngestError(
            path, f"{what}，OCR 也没有识别出文字", "换一份更清晰、端正的扫描件（300 dpi 以上）重新导入，或改用 Word 原件"
        )
    return IngestError(path, f"{what}，但页面里没有可做 OCR 的图像", "用原来的软件重新导出带文字的 PDF，或改用 Word 原件")


def load_image(path: Path) -> tuple[str, dict]:
    """A scanned page or a photo of one (.png .jpg .jpeg .tif .tiff; a multi-page TIFF is one document), by OCR."""
    from PIL import Image, UnidentifiedImageError

    page_lines: list[list[str]] = []
    ocr_pages: list[tuple[int, float]] = []
    try:
        data = path.read_bytes()
        cache = ocr.PageCache(data)
        with Image.open(io.BytesIO(data)) as im:
            total = getattr(im, "n_frames", 1) or 1
            try:
                for i, frame in enumerate(ocr.image_frames(im)):
                    res = cache.get(i + 1)
                    if res is None:
                        res = ocr.ocr_image(frame)
                        cache.put(i + 1, res)
                    lines = [ln.strip() for ln in normalize(res.text).split("\n") if ln.strip()]
                    page_lines.append(lines)
                    if lines:
                        ocr_pages.append((i + 1, res.confidence))
                    ocr.report_page(i + 1, total)
            finally:
                cache.save()  # the pages read so far, even when a later one fails
    except Image.DecompressionBombError as e:
        raise IngestError(path, f"图片过大（{str(e)[:60]}）", "缩小到 A4 300 dpi（约 2500×3500 像素）以内后重新导入") from None
    except ocr.OcrUnavailable as e:
        raise IngestError(
            path,
            f"OCR 组件无法运行（{str(e)[:100]}）",
            "运行 scripts/setup.sh 重新安装依赖（rapidocr-onnxruntime）后重新导入",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise IngestError(
            path, f"不是有效的图片或已损坏（{type(e).__name__}: {str(e)[:60]}）", "重新扫描或重新导出图片"
        ) from None
    if not ocr_pages:
        raise IngestError(
            path, "图片中没有识别出文字", "换一张更清晰、端正的扫描件或照片（300 dpi 以上）；不是文档的图片请移出知识库文件夹"
        )
    text, extras = _assemble(page_lines, "")
    extras["ocr_pages"] = ocr_pages
    return text, extras


def _assemble(page_lines: list[list[str]], meta_title: str) -> tuple[str, dict]:
    """The document text from its pages' lines: running headers/footers and page numbers dropped, the title
    found, paragraphs re-joined."""
    n_pages = len(page_lines)
    # Running headers/footers: short lines repeated at the top or bottom of most pages.
    edge: Counter[str] = Counter()
    for lines in page_lines:
        for line in {*lines[:2], *lines[-2:]}:
            if len(line) <= 40:
                edge[line] += 1
    repeated = {line for line, n in edge.items() if n_pages >= 3 and n >= 0.6 * n_pages}
    kept: list[str] = []
    for lines in page_lines:
        for i, line in enumerate(lines):
            at_edge = i < 2 or i >= len(lines) - 2
            if at_edge and (_PAGE_NO.match(line) or line in repeated):
                continue
            kept.append(line)
    warnings = []
    empty = [str(i + 1) for i, lines in enumerate(page_lines) if not lines]
    if empty:
        warnings.append(
            f"第 {'、'.join(empty[:20])}{' 等' if len(empty) > 20 else ''} 页没有文字（空白页，或扫描图像中识别不出文字）"
        )
    extras: dict = {"warnings": warnings}
    title, kept = _title_lines(kept, meta_title)
    if not title and re.search(r"[\u4e00-\u9fff]", meta_title):
        extras["title"] = meta_title
    lines = _join_lines(kept)
    if title:
        extras.setdefault("title", title)
        lines.insert(0, f"# {title}")
    return "\n".join(lines), extras


def _title_lines(lines: list[str], meta_title: str) -> tuple[str, list[str]]:
    """The document title at the top (it may wrap over lines), and the lines after it.

    With a metadata title, the leading lines that spell it out; without one, a short first line that
    reads like a Chinese title (no sentence end, not an article or numbered heading).
    """
    if meta_title:
        target = re.sub(r"\s+", "", meta_title)
        acc = ""
        for i, line in enumerate(lines[:4]):
            acc += re.sub(r"\s+", "", line)
            if acc == target:
                return meta_title, lines[i + 1 :]
            if not target.startswith(acc):
                break
    first = lines[0] if lines else ""
    if 4 <= len(first) <= 40 and re.search(r"[\u4e00-\u9fff]", first) and not _starts_unit(first) and not first.endswith(_ENDS_PARAGRAPH):
        return first, lines[1:]
    return "", lines
