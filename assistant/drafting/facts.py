"""The user's own facts for a draft: a facts file (one fact per line or per 一是 item), their own report or
responsibility list. Each fact becomes a Chunk so a draft cites it exactly like a regulation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from assistant.core.messages import error
from assistant.core.types import Chunk, Document
from assistant.ingest.chunking import chunk_document
from assistant.ingest.loaders import load_document, supported
from assistant.text import normalize
from assistant.text.structure import MD_HEADING, split_enumeration

FACTS_KIND = "facts"
_SKIP_PREFIXES = ("<!--", "|---", "---")


def _line_chunks(doc: Document) -> list[Chunk]:
    """One chunk per fact line (per 一是 item when a line enumerates); headings become each fact's context."""
    chunks: list[Chunk] = []
    heading = ""
    pos = 0
    n = 0
    for line in doc.text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        stripped = line.strip()
        if not stripped or stripped.startswith(_SKIP_PREFIXES):
            continue
        m = MD_HEADING.match(stripped)
        if m:
            if len(m.group(1)) > 1 or start > 0:
                heading = m.group(2).strip()
            continue
        body = stripped.lstrip("-*•· ").strip()
        cursor = doc.text.index(body, start)
        for item in split_enumeration(body):
            i = doc.text.index(item, cursor)
            cursor = i + len(item)
            n += 1
            digest = hashlib.sha1(f"{doc.source}\x1f{n}\x1f{item}".encode()).hexdigest()[:16]
            chunks.append(
                Chunk(
                    id=f"facts-{digest}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    text=item,
                    kind=FACTS_KIND,
                    context=" ".join(x for x in (f"《{doc.title}》", heading) if x),
                    article=f"第{n}项",
                    path=(heading,) if heading else (),
                    source=doc.source,
                    start=i,
                    end=cursor,
                )
            )
    return chunks


def _as_user_fact(c: Chunk) -> Chunk:
    """Rows of a list the user supplied for this draft count as facts, not as knowledge-base content."""
    from dataclasses import replace

    return replace(c, id=f"facts-{c.id}", kind=FACTS_KIND)


def load_facts(paths: Iterable[Path | str] = (), text: str = "") -> tuple[Chunk, ...]:
    """Facts from files (.md .txt .docx .xlsx … — whatever the ingest loaders read) and/or pasted text."""
    out: list[Chunk] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise error("facts_file_missing", path=path)
        if not supported(path):
            raise error("facts_file_type", name=path.name, suffix=path.suffix or "（无扩展名）")
        doc = load_document(path, path.parent)
        if doc.rows:  # a table: one fact per row, with its columns kept
            out.extend(_as_user_fact(c) for c in chunk_document(doc))
        else:
            out.extend(_line_chunks(doc))
    if text.strip():
        norm = normalize(text)
        doc = Document(doc_id="pasted", title="事实材料", text=norm, kind=FACTS_KIND, source="（粘贴的事实材料）")
        out.extend(_line_chunks(doc))
    return tuple(out)
