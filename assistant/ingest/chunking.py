"""Structure-aware chunking: one article per chunk for regulations, one item per chunk for reports,
one row per chunk for responsibility lists. Every chunk's text is a verbatim slice of the document."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from assistant.core.types import Chunk, Document
from assistant.text import sentences, squeeze_cjk_spaces
from assistant.text.structure import (
    ARTICLE,
    CN_SMALL,
    DIV_LEVEL,
    DIVISION,
    H1,
    H2,
    H3,
    ITEM,
    MD_HEADING,
    article_label,
    cn_to_int,
    split_enumeration,
)

# Bump when chunk boundaries or contexts change: existing indexes then re-chunk every file on the next ingest.
CHUNKER_VERSION = "3"


@dataclass
class _Block:
    """A run of lines [start, end) in the document text with its structural address."""

    start: int
    end: int
    path: tuple[str, ...]
    article: str = ""
    label: str = ""
    lines: list[tuple[int, str]] = field(default_factory=list)
    lead: str = ""  # for later parts of a split article: its opening sentence, kept in the retrieval context
    row: int = -1  # index into doc.rows for a table-row chunk


def chunk_document(doc: Document, max_chars: int = 600) -> list[Chunk]:
    if doc.kind == "list" and doc.rows:
        rows = _row_chunks(doc)
        # Prose around the table (notes, a preamble) is chunked as an outline, skipping the row lines.
        prose = _outline_chunks(doc, max_chars, skip={b.start for b in rows})
        return _finish(doc, sorted(rows + prose, key=lambda b: b.start))
    if doc.kind == "regulation":
        return _finish(doc, _regulation_chunks(doc, max_chars))
    return _finish(doc, _outline_chunks(doc, max_chars))


def _lines(text: str):
    """(offset, line) for each line of text."""
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _heading_text(line: str) -> str:
    m = MD_HEADING.match(line)
    return squeeze_cjk_spaces((m.group(2) if m else line).strip())


# ---------------------------------------------------------------- regulations


def _regulation_chunks(doc: Document, max_chars: int) -> list[_Block]:
    blocks: list[_Block] = []
    divisions: dict[int, str] = {}  # level -> heading
    other_heading = ""
    current: _Block | None = None
    last_article = 0

    def path() -> tuple[str, ...]:
        parts = [divisions[k] for k in sorted(divisions)]
        return tuple(parts + ([other_heading] if other_heading else []))

    def close(end: int) -> None:
        nonlocal current
        if current and current.lines:
            current.end = end
            blocks.append(current)
        current = None

    for pos, line in _lines(doc.text):
        if not line.strip():
            continue
        if line.startswith("# ") and pos == 0:
            continue  # document title
        div = DIVISION.match(line)
        art = ARTICLE.match(line)
        if div and not art:
            close(pos)
            level = DIV_LEVEL[div.group(2)]
            divisions = {k: v for k, v in divisions.items() if k < level}
            divisions[level] = f"{div.group(1)} {squeeze_cjk_spaces(div.group(3))}".strip()
            other_heading = ""
            continue
        if MD_HEADING.match(line):
            close(pos)
            other_heading = _heading_text(line)
            continue
        if art:
            num = cn_to_int(art.group(1))
            if num > last_article or art.group(2):
                close(pos)
                last_article = num
                label = article_label(num, art.group(2) or "")
                current = _Block(pos, pos, path(), article=label)
                current.lines.append((pos, line))
                continue
        if squeeze_cjk_spaces(line) == "目录":
            continue  # the table of contents is navigation, not content
        if current is None or (current.article == "题注" and _balanced(current)):
            close(pos)
            at_top = not blocks and last_article == 0
            if at_top and line.startswith("（") and not other_heading:
                label = "题注"  # the issuing note under the title
            else:
                label = other_heading or ("序言" if last_article == 0 else "")
            current = _Block(pos, pos, path(), article=label)
        current.lines.append((pos, line))
    close(len(doc.text))
    out: list[_Block] = []
    for b in blocks:
        out.extend(_split_long(b, doc.text, max_chars, by_items=bool(b.article.startswith("第"))))
    return out


def _balanced(block: _Block) -> bool:
    """The issuing note （…） may wrap over lines; it ends when its brackets close."""
    text = "".join(line for _, line in block.lines)
    return text.count("（") <= text.count("）")


def _split_long(block: _Block, text: str, max_chars: int, by_items: bool) -> list[_Block]:
    """Split an over-long block at （一） items, else at paragraph/sentence ends; parts keep the address."""
    size = block.lines[-1][0] + len(block.lines[-1][1]) - block.lines[0][0]
    if size <= max_chars:
        return [block]
    units: list[tuple[int, int]] = []  # (start, end) offsets of paragraphs or sentences
    for pos, line in block.lines:
        if len(line) <= max_chars:
            units.append((pos, pos + len(line)))
            continue
        cursor = pos
        for sent in sentences(line):
            i = text.index(sent, cursor)
            # A "sentence" with no end in sight (a 10 MB line without 。) is cut at max_chars, so no chunk is huge.
            units.extend((j, min(j + max_chars, i + len(sent))) for j in range(i, i + len(sent), max_chars))
            cursor = i + len(sent)
    parts: list[list[tuple[int, int]]] = [[]]
    for unit in units:
        cur = parts[-1]
        cur_size = (cur[-1][1] - cur[0][0]) if cur else 0
        starts_item = by_items and ITEM.match(text[unit[0] : unit[1]])
        too_big = cur and cur_size + (unit[1] - unit[0]) > max_chars
        # New part when full; prefer breaking at an item boundary once the part is half full.
        if too_big or (starts_item and cur and cur_size > max_chars // 2):
            parts.append([])
        parts[-1].append(unit)
    out = []
    first = sentences(block.lines[0][1])
    lead = first[0][:80] if first else ""
    for i, units_ in enumerate(p for p in parts if p):
        b = _Block(units_[0][0], units_[-1][1], block.path, article=block.article)
        b.lines = [(s, text[s:e]) for s, e in units_]
        b.label = f"part {i + 1}"
        b.lead = lead if i else ""
        out.append(b)
    return out


# ---------------------------------------------------------------- reports and other prose


def _outline_level(line: str) -> int:
    """0 = not a heading; 1..4 = 一、 / （一） / 1. / markdown level."""
    m = MD_HEADING.match(line)
    if m:
        return len(m.group(1))
    if len(line) > 60 or re.search(r"[。；！？]", line):
        # A sentence that starts with 一、/（一） is a run-in heading with its text: _inline_heading keeps both.
        return 0
    if H1.match(line):
        return 2
    if H2.match(line):
        return 3
    if H3.match(line):
        return 4
    return 0


def _short_label(heading: str) -> str:
    """'二、强化责任落实' -> '二、'; '（一）压实…' -> '（一）'; others stay whole (trimmed)."""
    for rx in (H1, H2, H3):
        m = rx.match(heading)
        if m:
            return m.group(0)
    return heading[:20]


def _inline_heading(line: str) -> tuple[int, str]:
    """'（一）压实政治责任。党委……' opens a section and its text in one paragraph: (level, heading)."""
    for level, rx in ((2, H1), (3, H2), (4, H3)):
        m = rx.match(line)
        if m:
            head = re.split(r"[。；！？]", line, maxsplit=1)[0]
            return level, head[:40]
    return 0, ""


def _outline_chunks(doc: Document, max_chars: int, skip: AbstractSet[int] = frozenset()) -> list[_Block]:
    blocks: list[_Block] = []
    stack: dict[int, str] = {}
    for pos, line in _lines(doc.text):
        if not line.strip() or (line.startswith("# ") and pos == 0) or pos in skip:
            continue
        level = _outline_level(line)
        if level:
            stack = {k: v for k, v in stack.items() if k < level}
            stack[level] = _heading_text(line)
            continue
        level, head = _inline_heading(line)
        if level:
            stack = {k: v for k, v in stack.items() if k < level}
            stack[level] = head
        path = tuple(stack[k] for k in sorted(stack))
        article = "".join(_short_label(h) for h in path if H1.match(h) or H2.match(h) or H3.match(h))
        if not article and path:
            article = path[-1][:20]
        items = split_enumeration(line) if doc.kind == "report" else [line]
        cursor = pos
        for item in items:
            i = doc.text.index(item, cursor)
            cursor = i + len(item)
            m = re.match(rf"([{CN_SMALL}]+)是", item)
            label = f"{article}{m.group(0)}" if m else article
            b = _Block(i, cursor, path, article=label)
            b.lines = [(i, item)]
            blocks.extend(_split_long(b, doc.text, max_chars, by_items=False))
    return _merge_small(blocks, doc.text, max_chars)


def _merge_small(blocks: list[_Block], text: str, max_chars: int) -> list[_Block]:
    """Join consecutive short paragraphs under the same heading so chunks carry enough context."""
    out: list[_Block] = []
    for b in blocks:
        prev = out[-1] if out else None
        if (
            prev
            and prev.path == b.path
            and prev.article == b.article
            and (b.end - prev.start) <= max_chars // 2
            and not re.match(rf"[{CN_SMALL}]+是", b.lines[0][1])
        ):
            prev.lines.extend(b.lines)
            prev.end = b.end
        else:
            out.append(b)
    return out


# ---------------------------------------------------------------- responsibility lists


def _row_chunks(doc: Document) -> list[_Block]:
    """Rows were rendered one per line by the loader; map each back to its row metadata.

    Group headings between rows (a sheet name, '一、党委主体责任') become the row's path.
    """
    blocks = []
    cursor = 0
    groups: dict[int, str] = {}
    multi_sheet = len({s for s, _ in doc.sheet_rows}) > 1
    for n, (row, (sheet, rownum)) in enumerate(zip(doc.rows, doc.sheet_rows)):
        line = row_line(row)
        i = doc.text.index(line, cursor)
        for _, between in _lines(doc.text[cursor:i]):
            m = MD_HEADING.match(between)
            if m and len(m.group(1)) > 1:
                level = len(m.group(1))
                groups = {k: v for k, v in groups.items() if k < level}
                groups[level] = squeeze_cjk_spaces(m.group(2).strip())
        cursor = i + len(line)
        path = tuple(dict.fromkeys(([sheet] if sheet else []) + [groups[k] for k in sorted(groups)]))
        article = f"{sheet} 第{rownum}行" if multi_sheet and sheet else f"第{rownum}行"
        b = _Block(i, cursor, path, article=article, row=n)
        b.lines = [(i, line)]
        b.label = "row"
        blocks.append(b)
    return blocks


def row_line(row: tuple[tuple[str, str], ...]) -> str:
    """The one-line text form of a table row; loaders write rows with this so chunks can find them."""
    return "；".join(f"{h}：{v}" for h, v in row if v)


# ---------------------------------------------------------------- chunks


def _finish(doc: Document, blocks: list[_Block]) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for b in blocks:
        start = b.lines[0][0]
        end = b.lines[-1][0] + len(b.lines[-1][1])
        body = doc.text[start:end].strip()
        if not body:
            continue
        context = " ".join([f"《{doc.title}》", *b.path, b.article if b.article not in b.path else "", b.lead]).strip()
        extra: list[tuple[str, str]] = []
        if b.label.startswith("part"):
            extra.append(("part", b.label.split()[1]))
        article = b.article
        if b.row >= 0:
            row, (sheet, _) = doc.rows[b.row], doc.sheet_rows[b.row]
            if sheet:
                extra.append(("sheet", sheet))
            extra.extend((h, v) for h, v in row if v)
            subject = _subject(row)
            if subject:
                article = f"{b.article} {subject}"
        key = f"{doc.source}\x1f{context}\x1f{body}"
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        cid = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        chunks.append(
            Chunk(
                id=cid,
                doc_id=doc.doc_id,
                title=doc.title,
                text=body,
                kind=doc.kind,
                context=context,
                article=article,
                path=b.path,
                version=doc.version,
                source=doc.source,
                start=start,
                end=end,
                extra=tuple(extra),
            )
        )
    return chunks


_SUBJECT_HEADERS = ("责任主体", "责任人", "责任单位", "责任部门", "岗位", "主体")


def _subject(row: tuple[tuple[str, str], ...]) -> str:
    for h, v in row:
        if any(k in h for k in _SUBJECT_HEADERS) and v:
            return v[:30]
    return ""
