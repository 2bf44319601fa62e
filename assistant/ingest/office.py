"""Word loaders: .docx via python-docx; .doc and .wps converted to .docx by headless LibreOffice when it is installed.

Heading styles become markdown '#' lines (Title '#', Heading 1 '##', Heading 2 '###' …) so the outline and
regulation chunkers see the document structure; tables become header-keyed row lines (see ingest.tables).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.ingest.numbering import Numbering
from assistant.ingest.tables import TableText, check_office_container, render_table
from assistant.text import normalize

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)
_TITLE_STYLES = {"title", "标题"}
CONVERT_TIMEOUT = 180


def _outline_level(paragraph) -> int | None:
    """0 for the document title, 1..9 for headings, None for body text."""
    style = paragraph.style
    name = (style.name or "").strip() if style is not None else ""
    if name.lower() in _TITLE_STYLES:
        return 0
    m = _HEADING_STYLE.match(name)
    if m:
        return int(m.group(1))
    # Custom styles often carry the level as w:outlineLvl (0-based) on the paragraph or its style chain.
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    elements = [paragraph._p]
    s = style
    while s is not None:
        elements.append(s.element)
        s = s.base_style
    for el in elements:
        lvl = el.find(f"{ns}pPr/{ns}outlineLvl")
        if lvl is not None:
            val = int(lvl.get(f"{ns}val", "9"))
            return val + 1 if val < 9 else None
    return None


def _cell_text(cell) -> str:
    return " ".join(line for line in normalize(cell.text).split("\n") if line)


def _table(table, number: int) -> TableText:
    grid = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # python-docx repeats a horizontally merged cell once per grid column; keep it once.
            if id(cell._tc) in seen:
                cells.append("")
                continue
            seen.add(id(cell._tc))
            cells.append(_cell_text(cell))
        grid.append(cells)
    return render_table(grid, f"表{number}", list(range(1, len(grid) + 1)), heading_level=4)


def load_docx(path: Path) -> tuple[str, dict]:
    import docx
    from docx.table import Table

    data = path.read_bytes()
    check_office_container(path, data, "Word 文档（.docx）")
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(path, f"已损坏或不是 Word 文档（{type(e).__name__}）", "用 Word 或 WPS 打开后重新保存") from None
    blocks: list[tuple[int | None, str] | TableText] = []
    tables = TableText()
    try:
        numbering_element = document.part.numbering_part.element
    except (KeyError, NotImplementedError):
        numbering_element = None
    numbering = Numbering(numbering_element)
    n_tables = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            n_tables += 1
            t = _table(block, n_tables)
            blocks.append(t)
            tables.rows += t.rows
            tables.sheet_rows += t.sheet_rows
        else:
            style = block.style.element if block.style is not None else None
            label = numbering.prefix(block._p, style)
            text = block.text.replace("\n", " ").replace("\r", " ")
            if label and text.strip():
                # 第一条 needs a space before the article text; 一、 and （一） run straight on.
                text = label + ("　" if label.startswith("第") and label.endswith("条") else "") + text.lstrip()
            blocks.append((_outline_level(block), text))
    # Normalize all paragraphs in one pass, as for a text file, so a （…） note spanning two paragraphs
    # gets its full-width brackets back; table lines are already normalized and must stay verbatim.
    paragraphs = [b[1] for b in blocks if isinstance(b, tuple)]
    normalized = iter(normalize("\n".join(paragraphs)).split("\n"))
    lines: list[str] = []
    title = ""
    for b in blocks:
        if isinstance(b, TableText):
            lines += b.lines
            continue
        level, text = b[0], next(normalized)
        if not text:
            continue
        if level == 0 and not title and not lines:
            title = text
            lines.append(f"# {text}")
        elif level is not None and level >= 1 and len(text) <= 80:
            lines.append("#" * min(level + 1, 6) + " " + text)
        else:
            lines.append(text)
    if not title:
        core = (document.core_properties.title or "").strip()
        if core and re.search(r"[\u4e00-\u9fff]", core):
            title = normalize(core)
    extras: dict = {"rows": tables.rows, "sheet_rows": tables.sheet_rows}
    if title:
        extras["title"] = title
    return "\n".join(lines), extras


def office_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def load_legacy_word(path: Path) -> tuple[str, dict]:
    """.doc / .wps: convert with headless LibreOffice into a temp folder, then read the .docx."""
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise IngestError(path, f"其实是 .docx 文档，却以 {path.suffix} 命名", "把扩展名改为 .docx")
    binary = office_binary()
    if binary is None:
        raise IngestError(
            path,
            f"是旧的 {path.suffix} 格式，本机没有安装 LibreOffice 来转换",
            "在 Word/WPS 中另存为 .docx，或安装 LibreOffice（apt-get install libreoffice-writer）",
        )
    with tempfile.TemporaryDirectory(prefix="assistant-convert-") as tmp:
        src = Path(tmp) / f"input{path.suffix.lower()}"
        src.write_bytes(data)
        profile = Path(tmp) / "profile"  # a private profile, so a running LibreOffice does not block us
        cmd = [binary, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "docx", "--outdir", tmp, str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CONVERT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise IngestError(path, f"LibreOffice 转换超过 {CONVERT_TIMEOUT} 秒仍未完成", "在 Word/WPS 中另存为 .docx") from None
        out = Path(tmp) / "input.docx"
        if proc.returncode != 0 or not out.is_file():
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise IngestError(path, f"LibreOffice 无法转换（{detail[0][:120]}）", "文件可能已损坏或有密码；在 Word/WPS 中另存为 .docx")
        text, extras = load_docx(out)
    return text, extras
