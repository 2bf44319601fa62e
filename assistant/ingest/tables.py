"""Spreadsheet loaders (.xlsx, .xls, .csv) and the shared table renderer used for Word tables too.

A responsibility list becomes one line per data row, ``表头：值；表头：值``, written with
``chunking.row_line`` so the list chunker can map each line back to its row, sheet and row number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.ingest.chunking import row_line
from assistant.text import normalize
from assistant.text.encoding import decode_text

MAX_ROWS_PER_SHEET = 20000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class TableText:
    """Lines of text for a table plus the row metadata the list chunker needs."""

    lines: list[str] = field(default_factory=list)
    rows: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    sheet_rows: list[tuple[str, int]] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)  # title lines above the header

    def extend(self, other: TableText) -> None:
        self.lines += other.lines
        self.rows += other.rows
        self.sheet_rows += other.sheet_rows
        self.captions += other.captions


def cell_text(value: object) -> str:
    """One table cell as one normalized line (numbers without '.0', dates as 2024年12月31日)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime) and (value.hour, value.minute, value.second) == (0, 0, 0):
        value = value.date()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = f"{value.year}年{value.month}月{value.day}日"
    text = normalize(str(value))
    return " ".join(part for part in text.split("\n") if part)


def _is_header(values: Sequence[str]) -> bool:
    filled = [v for v in values if v]
    if len(filled) < 2 or len(set(filled)) < 2:
        return False
    return all(len(v) <= 30 and not re.fullmatch(r"[\d.,\-/年月日 ]+", v) for v in filled)


def render_table(grid: Sequence[Sequence[str]], sheet: str, row_numbers: Sequence[int], heading_level: int = 3) -> TableText:
    """Turn a grid of cell texts into header-keyed rows.

    The header is the first row (within the first 10) that has at least two distinct short labels;
    single-cell rows above it are captions, single-cell rows below it are group headings or notes.
    """
    out = TableText()
    rows = [[c or "" for c in r] for r in grid]
    width = max((len(r) for r in rows), default=0)
    head_at = next((i for i, r in enumerate(rows[:10]) if _is_header(r)), None)
    if head_at is None or width < 2:
        # No header: keep the text, one line per row, so nothing is lost.
        for r in rows:
            line = "　".join(_dedupe(r))
            if line:
                out.lines.append(line)
        return out
    for r in rows[:head_at]:
        vals = _dedupe(r)
        if vals:
            out.captions.append(" ".join(vals))
            out.lines.append(" ".join(vals))
    header = [h or f"第{j + 1}列" for j, h in enumerate(rows[head_at] + [""] * (width - len(rows[head_at])))]
    for r, number in zip(rows[head_at + 1 :], row_numbers[head_at + 1 :]):
        r = r + [""] * (width - len(r))
        vals = _dedupe(r)
        if not vals or r == rows[head_at]:
            continue  # blank row, or the header repeated after a page break
        first_col = next(j for j, v in enumerate(r) if v)
        if len(vals) == 1 and width >= 3 and first_col <= 1:
            # One value at the left of a wide table is a group heading (一、党委主体责任) or a note;
            # further right it is a data row whose other cells are empty.
            v = vals[0]
            if len(v) <= 40 and not v.endswith(("。", "；")):
                out.lines.append("#" * heading_level + " " + v)
            else:
                out.lines.append(v)
            continue
        pairs = tuple((header[j], r[j]) for j in range(width))
        line = row_line(pairs)
        if not line:
            continue
        out.rows.append(pairs)
        out.sheet_rows.append((sheet, number))
        out.lines.append(line)
    return out


def _dedupe(values: Sequence[str]) -> list[str]:
    """Non-empty values with horizontal merge repeats (Word repeats a merged cell) collapsed."""
    out: list[str] = []
    for v in values:
        if v and (not out or out[-1] != v):
            out.append(v)
    return out if len(set(out)) > 1 or not out else out[:1]


def _assemble(path: Path, sheets: list[tuple[str, TableText]], warnings: list[str]) -> tuple[str, dict]:
    """Render sheets into one document: '# 标题', '## 工作表', row lines."""
    sheets = [(name, t) for name, t in sheets if t.lines]
    if not sheets:
        raise IngestError(path, "所有工作表都没有数据行", "检查工作表是否为空或被隐藏")
    lines: list[str] = []
    title = ""
    first = sheets[0][1]
    if first.captions:
        title = first.captions[0]
        first.lines.remove(title)
        lines.append(f"# {title}")
    total = TableText()
    for name, t in sheets:
        if name and (len(sheets) > 1 or not _default_sheet_name(name)):
            lines.append(f"## {name}")
        lines += t.lines
        total.extend(t)
    extras: dict = {"rows": total.rows, "sheet_rows": total.sheet_rows, "tabular": True, "warnings": warnings}
    if title:
        extras["title"] = title
    if not total.rows:
        extras.pop("tabular")
    return "\n".join(lines), extras


def _default_sheet_name(name: str) -> bool:
    return bool(re.fullmatch(r"(sheet|工作表)\s*\d*", name.strip(), flags=re.I))


def _single_sheet_name(name: str, multi: bool) -> str:
    return name if multi or not _default_sheet_name(name) else ""


# ---------------------------------------------------------------- .xlsx


MAX_UNPACKED = 256 * 2**20  # bytes a .docx/.xlsx may unpack to


def check_office_container(path: Path, data: bytes, what: str) -> None:
    """Office 2007+ files are zip archives; an OLE file under that name is encrypted or an old-format file."""
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise IngestError(path, "有密码保护", "打开后取消密码（文件→信息→保护）再保存")
        raise IngestError(path, f"是旧的二进制 Office 文件，却以 {path.suffix} 命名", f"另存为真正的 {what}，或改回它真实的扩展名")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(path, f"已损坏或不是真正的 {path.suffix} 文件", f"重新保存为 {what} 后再试")
    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise IngestError(path, f"已损坏或不是真正的 {path.suffix} 文件（{type(e).__name__}）", f"重新保存为 {what} 后再试") from None
    # A zip bomb: real Office files unpack to a few times their size, never to hundreds of MiB from a small file.
    if unpacked > MAX_UNPACKED or (unpacked > 20 * 2**20 and unpacked > 100 * len(data)):
        raise IngestError(
            path,
            f"解压后有 {unpacked / 2**20:.0f} MiB（文件本身 {len(data) / 2**20:.1f} MiB），疑似压缩炸弹或文件损坏",
            f"用 Office/WPS 打开后重新保存；解压后超过 {MAX_UNPACKED // 2**20} MiB 的文件不予导入",
        )


def load_xlsx(path: Path) -> tuple[str, dict]:
    import openpyxl

    data = path.read_bytes()
    check_office_container(path, data, "Excel 工作簿（.xlsx）")
    try:
        # Not read_only: merged ranges are needed to fill a merged 责任主体 cell into every row it spans.
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise IngestError(path, f"已损坏（{type(e).__name__}）", "用 Excel 或 WPS 打开后重新保存") from None
    warnings: list[str] = []
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    hidden = [ws.title for ws in wb.worksheets if ws.sheet_state != "visible"]
    if hidden:
        warnings.append(f"hidden sheets skipped: {', '.join(hidden)}")
    sheets = []
    for ws in visible:
        fills = {}
        for rng in ws.merged_cells.ranges:
            # Fill a vertical merge down its first column; a horizontal merge stays one value (a group heading).
            value = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row + 1, rng.max_row + 1):
                fills[(r, rng.min_col)] = value
        grid: list[list[str]] = []
        numbers: list[int] = []
        for r_idx, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [cell_text(fills.get((r_idx, c_idx), v)) for c_idx, v in enumerate(row, start=1)]
            if not any(cells):
                continue
            if len(grid) >= MAX_ROWS_PER_SHEET:
                warnings.append(f"sheet {ws.title}: only the first {MAX_ROWS_PER_SHEET} rows were read")
                break
            grid.append(_trim(cells))
            numbers.append(r_idx)
        sheets.append((ws.title, render_table(grid, _single_sheet_name(ws.title, len(visible) > 1), numbers)))
    return _assemble(path, sheets, warnings)


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


# ---------------------------------------------------------------- .xls


def load_xls(path: Path) -> tuple[str, dict]:
    import xlrd

    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise IngestError(path, "其实是 .xlsx 工作簿，却以 .xls 命名", "把扩展名改为 .xlsx")
    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True)
    except xlrd.XLRDError as e:
        if "encrypt" in str(e).lower():
            raise IngestError(path, "有密码保护", "打开后取消密码再保存") from None
        raise IngestError(path, f"已损坏或不是真正的 .xls 文件（{e}）", "用 Excel 或 WPS 重新保存") from None
    except Exception as e:  # xlrd raises assorted errors (struct, AssertionError) on damaged BIFF data
        raise IngestError(path, f"已损坏或不是真正的 .xls 文件（{type(e).__name__}）", "用 Excel 或 WPS 重新保存") from None
    sheets = []
    visible = [sh for sh in book.sheets() if sh.visibility == 0]
    warnings = [f"hidden sheets skipped: {', '.join(sh.name for sh in book.sheets() if sh.visibility)}"] if len(visible) < book.nsheets else []
    for sh in visible:
        fills = {}
        for rlo, rhi, clo, _chi in sh.merged_cells:
            for r in range(rlo + 1, rhi):
                fills[(r, clo)] = sh.cell_value(rlo, clo)
        grid, numbers = [], []
        for r in range(min(sh.nrows, MAX_ROWS_PER_SHEET)):
            cells = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                value = fills.get((r, c), cell.value)
                if cell.ctype == xlrd.XL_CELL_DATE and (r, c) not in fills:
                    value = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
                cells.append(cell_text(value))
            if any(cells):
                grid.append(_trim(cells))
                numbers.append(r + 1)
        sheets.append((sh.name, render_table(grid, _single_sheet_name(sh.name, len(visible) > 1), numbers)))
    return _assemble(path, sheets, warnings)


# ---------------------------------------------------------------- .csv


def load_csv(path: Path) -> tuple[str, dict]:
    text = decode_text(path.read_bytes(), path)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;，")
    except csv.Error:
        dialect = csv.excel
    grid, numbers = [], []
    for n, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        cells = [cell_text(v) for v in row]
        if any(cells):
            grid.append(_trim(cells))
            numbers.append(n)
        if len(grid) >= MAX_ROWS_PER_SHEET:
            break
    return _assemble(path, [("", render_table(grid, "", numbers))], [])
