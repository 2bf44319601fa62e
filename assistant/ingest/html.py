"""HTML loader: the page's main text with navigation, scripts and boilerplate stripped.

Headings become markdown '#' lines, tables become header-keyed rows (ingest.tables), and the page
<title> or first <h1> becomes the document title.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.ingest.tables import TableText, render_table
from assistant.text import normalize

_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "button", "select", "template")
_BOILERPLATE = re.compile(r"(^|[-_ ])(nav|navbar|menu|breadcrumbs?|crumb|footer|sidebar|side-bar|toolbar|share|pager|pagination|copyright|banner|topbar|skip)([-_ ]|$)", re.I)
_BLOCK_TAGS = {"p", "div", "li", "section", "article", "main", "blockquote", "pre", "dd", "dt", "td", "th", "br", "tr", "center"}
_TITLE_SUFFIX = re.compile(r"\s*[-_|—–]\s*[^-_|—–]{1,30}(网|网站|门户|首页|平台|官网)$")


def _is_boilerplate(tag) -> bool:
    if tag.get("role") in ("navigation", "banner", "contentinfo", "search"):
        return True
    names = " ".join([*(tag.get("class") or []), tag.get("id") or ""])
    return bool(names and _BOILERPLATE.search(names))


def _table(table, number: int) -> TableText:
    grid = []
    for tr in table.find_all("tr"):
        cells = []
        for cell in tr.find_all(["th", "td"], recursive=False):
            text = " ".join(normalize(cell.get_text(" ", strip=True)).split())
            span = int(cell.get("colspan", 1) or 1) if str(cell.get("colspan", "1")).isdigit() else 1
            cells += [text] + [""] * (span - 1)
        grid.append(cells)
    return render_table(grid, f"表{number}", list(range(1, len(grid) + 1)), heading_level=4)


def load_html(path: Path) -> tuple[str, dict]:
    from bs4 import BeautifulSoup
    from bs4.element import PreformattedString

    data = path.read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(path, "看起来是二进制文件，不是 HTML 网页", "把网页另存为 HTML，或改回它真实的扩展名")
    try:
        return _load_html(path, data, BeautifulSoup, PreformattedString)
    except RecursionError:
        raise IngestError(path, "HTML 嵌套层数过深，无法读取", "在浏览器中把网页重新“另存为”，或把正文复制到 .txt 文件") from None


def _load_html(path: Path, data: bytes, BeautifulSoup, PreformattedString) -> tuple[str, dict]:  # noqa: N803 - the imported classes
    soup = BeautifulSoup(data, "html.parser")  # detects <meta charset> (GBK pages are common on .gov.cn)
    if soup.original_encoding in ("windows-1252", "iso-8859-1") and re.search(rb"[\x80-\xff]", data):
        # No declared charset and not UTF-8: Chinese pages without a charset are GBK.
        soup = BeautifulSoup(data, "html.parser", from_encoding="gb18030")
    page_title = normalize(soup.title.get_text(" ", strip=True)) if soup.title else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    doomed = [t for t in soup.find_all(True) if t.name not in ("html", "body", "main", "article") and _is_boilerplate(t)]
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    lines: list[str] = []
    tables = TableText()
    n_tables = 0
    h1 = ""

    def flush(text: str) -> None:
        for part in normalize(text).split("\n"):
            part = part.strip()
            if part:
                lines.append(part)

    def walk(node) -> None:
        nonlocal n_tables, h1
        buf: list[str] = []
        for child in node.children:
            if isinstance(child, PreformattedString):
                continue  # comments, doctype, CDATA
            name = getattr(child, "name", None)
            if name is None:
                buf.append(str(child))
                continue
            if name == "table":
                flush("".join(buf))
                buf = []
                n_tables += 1
                t = _table(child, n_tables)
                lines.extend(t.lines)
                tables.rows += t.rows
                tables.sheet_rows += t.sheet_rows
            elif re.fullmatch(r"h[1-6]", name):
                flush("".join(buf))
                buf = []
                text = " ".join(normalize(child.get_text(" ", strip=True)).split())
                if text:
                    level = int(name[1])
                    if level == 1 and not h1:
                        h1 = text
                    lines.append("#" * level + " " + text)
            elif name in _BLOCK_TAGS or child.find(["p", "div", "table", "li", "h1", "h2", "h3", "h4", "br"]):
                flush("".join(buf))
                buf = []
                if name == "br":
                    continue
                walk(child)
            else:
                buf.append(child.get_text())
        flush("".join(buf))

    walk(root)
    title = h1 or _TITLE_SUFFIX.sub("", page_title).strip()
    if lines and title and lines[0].lstrip("#").strip() == title:
        lines[0] = f"# {title}"
    elif title:
        lines.insert(0, f"# {title}")
    text = "\n".join(lines)
    if not re.sub(r"^#.*$", "", text, flags=re.M).strip():
        raise IngestError(path, "除导航栏外没有可读的正文", "只保存文章正文，或检查该网页")
    extras: dict = {"rows": tables.rows, "sheet_rows": tables.sheet_rows}
    if title:
        extras["title"] = title
    return text, extras
