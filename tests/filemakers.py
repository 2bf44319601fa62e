"""Real Word, Excel and PDF files for the ingest tests, written with python-docx, openpyxl, xlwt and fpdf2."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# ("title" | "h1" | "h2" | "h3" | "p", text) or ("table", rows)
Block = tuple[str, object]


def make_docx(path: Path, blocks: Sequence[Block]) -> Path:
    import docx

    d = docx.Document()
    styles = {"title": "Title", "h1": "Heading 1", "h2": "Heading 2", "h3": "Heading 3", "p": "Normal"}
    for kind, value in blocks:
        if kind == "table":
            rows = list(value)
            table = d.add_table(rows=0, cols=len(rows[0]))
            for row in rows:
                for cell, text in zip(table.add_row().cells, row):
                    cell.text = str(text)
        else:
            d.add_paragraph(str(value), style=styles[kind])
    d.save(path)
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]], merges: dict[str, list[str]] | None = None, hidden: Sequence[str] = ()) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def make_xls(path: Path, title: str, header: Sequence[str], rows: Sequence[Sequence[object]], merge_subject: tuple[int, int] | None = None) -> Path:
    """An Excel 97 workbook: title row merged across, header row, data rows; optionally one merged subject column range."""
    import datetime as dt

    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("清单")
    ws.write_merge(0, 0, 0, len(header) - 1, title)
    for j, h in enumerate(header):
        ws.write(1, j, h)
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    skip = set()
    if merge_subject:
        first, last = merge_subject  # 0-based sheet rows of the subject column (1)
        ws.write_merge(first, last, 1, 1, rows[first - 2][1])
        skip = {(r, 1) for r in range(first, last + 1)}
    for i, row in enumerate(rows, start=2):
        for j, value in enumerate(row):
            if (i, j) in skip:
                continue
            if isinstance(value, dt.date):
                ws.write(i, j, value, date_style)
            else:
                ws.write(i, j, value)
    wb.save(str(path))
    return path


def cjk_font() -> Path | None:
    """A font with Chinese glyphs for fpdf2, or None (fonts-noto-cjk or fonts-wqy-microhei provide one)."""
    candidates = [
        Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    ]
    for p in candidates:
        if p.is_file():
            return p
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            p = Path(line.split(":")[0].strip())
            if p.suffix.lower() in (".ttf", ".ttc", ".otf") and p.is_file():
                return p
    return None


def make_pdf(path: Path, pages: Sequence[Sequence[str]], font: Path | None = None, title: str = "", page_numbers: bool = True) -> Path:
    """A text-layer PDF: each page gets its paragraphs (wrapped by fpdf2) and a '- N -' footer line."""
    from fpdf import FPDF

    pdf = FPDF()
    if font is not None:
        # Simplified Chinese face of a collection (Noto's .ttc lists JP, KR, SC, TC...)
        index = 2 if "Noto" in font.name and font.suffix == ".ttc" else 0
        pdf.add_font("cjk", fname=str(font), collection_font_number=index)
        pdf.set_font("cjk", size=11)
    else:
        pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for n, paragraphs in enumerate(pages, start=1):
        pdf.add_page()
        for para in paragraphs:
            pdf.multi_cell(0, 7, para, new_x="LMARGIN", new_y="NEXT")
        if page_numbers:
            pdf.cell(0, 7, f"- {n} -", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF of page images and no text layer, like a scanner makes."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    pdf = FPDF()
    for n in range(pages):
        img = Image.new("L", (600, 800), 255)
        draw = ImageDraw.Draw(img)
        for y in range(60, 760, 24):
            draw.line((50, y, 550 - (y * 7 + n) % 200, y), fill=0, width=6)  # lines of 'text' as pixels
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        pdf.add_page()
        pdf.image(buf, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def encrypt_office(src: Path, dst: Path, password: str = "secret") -> Path:
    """A password-protected .docx/.xlsx, encrypted the way Office does it (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(src, "rb") as f, open(dst, "wb") as out:
        OOXMLFile(f).encrypt(password, out)
    return dst


def encrypt_pdf(src: Path, dst: Path, password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(src))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


def regulation_blocks(md_text: str) -> list[Block]:
    """A corpus regulation (markdown) as Word blocks: '# ' title, '##'/'###' headings, other lines paragraphs."""
    blocks: list[Block] = []
    for line in md_text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("# "):
            blocks.append(("title", line[2:]))
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            blocks.append((f"h{min(level - 1, 3) or 1}", line.lstrip("#").strip()))
        else:
            blocks.append(("p", line))
    return blocks
