"""Documents facade: a document as it is indexed (the 原文 view), what changed between two versions of a regulation,
the note an answer gets when a cited article was changed, and the documents an admin marked 已废止.

Everything here reads the live generation's chunks (every chunk has its doc_id, chapter path and article), so the
view is exactly what answers quote from, whatever the file format was."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.types import UPLOADS_PREFIX, Answer, Chunk, Hit
from assistant.index.versions import Article, Change, align, compare, earlier_version, render, summary

if TYPE_CHECKING:
    from assistant.app.service import AssistantService

__all__ = [
    "REPEAL_FILE",
    "ArticleView",
    "Change",
    "DocumentView",
    "VersionDiff",
    "diff_versions",
    "document_file",
    "document_view",
    "find_document",
    "holds_document",
    "repealed_titles",
    "set_repealed",
    "version_diff",
    "version_links",
    "version_notes",
]

REPEAL_FILE = "废止.txt"  # in the knowledge folder: one title per line; those documents are history, never answered from
REPEALED = "已废止"
_PARAGRAPHS = re.compile(r"\n\s*\n")


# ---------------------------------------------------------------- version diff of two files (assistant diff)


@dataclass(frozen=True)
class VersionDiff:
    title: str
    old_year: str
    new_year: str
    changes: tuple[Change, ...]
    counts: dict[str, int]
    text: str  # the report `assistant diff` prints


def diff_versions(folder: Path, title: str, old_year: str, new_year: str) -> VersionDiff:
    """Align the two versions of ``title`` found in ``folder`` (renumbered articles matched by content)."""
    changes = compare(Path(folder), title, old_year, new_year)
    return VersionDiff(title, old_year, new_year, tuple(changes), summary(changes), render(changes, title, old_year, new_year))


# ---------------------------------------------------------------- the 原文 view


@dataclass(frozen=True)
class ArticleView:
    article: str  # 第N条 / 序言 / 二、（一） / 第R行: the anchor of this article on the page
    path: tuple[str, ...]  # 编/章/节 or heading path
    text: str  # the article's text as indexed (its chunks joined back together)
    chunk_ids: tuple[str, ...]


@dataclass(frozen=True)
class DocumentView:
    doc_id: str
    title: str
    kind: str
    version: str
    source: str  # path in the knowledge base (uploads/… for an upload)
    status: str  # 现行有效 | 旧版 | 已废止
    successor: str  # what replaced it (旧版), e.g. "2024年修正版"
    successor_id: str  # the doc_id of the newer version when the knowledge base holds it, else ""
    provenance: str  # official | upload
    articles: tuple[ArticleView, ...]
    versions: tuple[tuple[str, str], ...]  # (version, doc_id) of every version of this title in the knowledge base

    def article(self, number: str) -> ArticleView | None:
        return next((a for a in self.articles if a.article == number), None)


def _join(chunks: Sequence[Chunk]) -> str:
    """The text of consecutive chunks of one article: overlapping parts once, a gap as a paragraph break."""
    text, end = "", None
    for c in sorted(chunks, key=lambda c: c.start):
        if end is None:
            text = c.text
        elif c.start < end:  # overlapping slices of the same document text
            text += c.text[end - c.start :]
        else:
            text += ("\n\n" if c.start - end >= 2 else "\n") + c.text
        end = max(end or 0, c.start + len(c.text))
    return text


def _articles(chunks: Sequence[Chunk]) -> tuple[ArticleView, ...]:
    """Chunks of one document in document order, grouped into articles (a long article's parts become one)."""
    groups: list[list[Chunk]] = []
    for c in sorted(chunks, key=lambda c: (c.start, c.end)):
        if groups and groups[-1][0].article == c.article and groups[-1][0].path == c.path:
            groups[-1].append(c)
        else:
            groups.append([c])
    return tuple(ArticleView(g[0].article, g[0].path, _join(g), tuple(c.id for c in g)) for g in groups)


def _docs(chunks: Iterable[Chunk]) -> dict[str, list[Chunk]]:
    out: dict[str, list[Chunk]] = {}
    for c in chunks:
        out.setdefault(c.doc_id, []).append(c)
    return out


def build_view(chunks: Sequence[Chunk], doc_id: str, repealed: frozenset[str] | set[str] = frozenset()) -> DocumentView | None:
    """The view of ``doc_id`` from a generation's chunks (None when it holds no such document)."""
    return _view(_docs(chunks), doc_id, repealed)


def _view(docs: dict[str, list[Chunk]], doc_id: str, repealed: frozenset[str] | set[str] = frozenset()) -> DocumentView | None:
    mine = docs.get(doc_id)
    if not mine:
        return None
    first = mine[0]
    versions = sorted((d[0].version, i) for i, d in docs.items() if d[0].title == first.title and d[0].kind == first.kind)
    newer = [i for v, i in versions if v > first.version]
    status = REPEALED if first.title in repealed else ("旧版" if first.superseded else "现行有效")
    return DocumentView(
        doc_id=doc_id,
        title=first.title,
        kind=first.kind,
        version=first.version,
        source=first.source,
        status=status,
        successor=first.superseded_by if first.superseded else "",
        successor_id=newer[-1] if newer and first.superseded else "",
        provenance=first.provenance,
        articles=_articles(mine),
        versions=tuple(versions),
    )


def find_document(service: AssistantService, ref: str, source: str = "") -> DocumentView:
    """The document with doc_id ``ref`` in the live index, or the document holding chunk ``ref`` (links saved in
    history carry the chunk id), or else the document of file ``source`` (a saved chunk whose file changed since).
    Raises doc_view_not_found."""
    chunks = service.reader().chunks
    repealed = repealed_titles(service.settings.knowledge_dir)
    view = build_view(chunks, ref, repealed)
    if view is None:
        owner = next((c.doc_id for c in chunks if c.id == ref), None) or next((c.doc_id for c in chunks if source and c.source == source), None)
        view = build_view(chunks, owner, repealed) if owner else None
    if view is None:
        raise error("doc_view_not_found", ref=ref, kb=service.settings.kb)
    return view


def holds_document(service: AssistantService, ref: str) -> bool:
    """Whether the live index of ``service`` holds the document (or chunk) ``ref``; False when it has no index."""
    try:
        chunks = service.reader().chunks
    except AssistantError:
        return False
    return any(c.doc_id == ref or c.id == ref for c in chunks)


def document_view(service: AssistantService, doc_id: str, source: str = "") -> DocumentView:
    """The 原文 view of one document of the live index: title, status, successor, articles in order."""
    return find_document(service, doc_id, source)


def document_file(service: AssistantService, view: DocumentView) -> Path:
    """The original file of an indexed document: only files inside the knowledge folder or the KB's uploads folder."""
    if view.source.startswith(UPLOADS_PREFIX):
        root, rel = service.uploads_dir, view.source.removeprefix(UPLOADS_PREFIX)
    else:
        root, rel = service.settings.knowledge_dir, view.source
    root = root.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise error("doc_file_missing", title=view.title, path=view.source)
    return path


# ---------------------------------------------------------------- versions of one title in the knowledge base


def _body(a: ArticleView) -> str:
    """An article's text without its leading number, as versions.parse_articles reads a file."""
    text = a.text
    if text.startswith(a.article):
        text = text[len(a.article) :].lstrip(" 　")
    return text


def numbered(view: DocumentView) -> list[Article]:
    """The 第N条 articles of a view, as the version alignment takes them."""
    # paragraphs one line apart, as versions.parse_articles reads a file (chunks keep the blank lines between them)
    return [Article(a.article, _PARAGRAPHS.sub("\n", _body(a))) for a in view.articles if a.article.startswith("第") and a.article.endswith("条")]


def _pair(chunks: Sequence[Chunk], title: str, old: str, new: str) -> tuple[DocumentView, DocumentView]:
    docs = _docs(chunks)
    by_version = {d[0].version: i for i, d in docs.items() if d[0].title == title}
    found = {v: by_version.get(v) or next((i for ver, i in sorted(by_version.items()) if ver.startswith(v)), None) for v in (old, new)}
    missing = [v for v, i in found.items() if i is None]
    if missing:
        have = "、".join(sorted(by_version)) or "无"
        raise error("version_not_indexed", title=title, year=missing[0], have=have)
    a, b = build_view(chunks, found[old] or ""), build_view(chunks, found[new] or "")
    assert a is not None and b is not None
    return a, b


def version_diff(service: AssistantService, title: str, old: str, new: str) -> tuple[VersionDiff, DocumentView, DocumentView]:
    """The 版本对比 of two indexed versions of ``title`` (years or full versions), article by article."""
    reader = service.reader()
    a, b = _pair(reader.chunks, title, old, new)
    changes = ALIGNMENTS.get(reader.gen.name if reader.gen else "", a, b)  # computed once per generation
    oy, ny = a.version[:4], b.version[:4]
    return VersionDiff(title, oy, ny, tuple(changes), summary(changes), render(changes, title, oy, ny)), a, b


class _Alignments:
    """Alignments of (old doc, new doc) per generation: computed once, shared by every answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], list[Change]] = {}
        self._docs: tuple[str, dict[str, list[Chunk]]] = ("", {})

    def docs(self, gen: str, chunks: Sequence[Chunk]) -> dict[str, list[Chunk]]:
        """The chunks of a generation by document, grouped once per generation (gen "" is never cached)."""
        with self._lock:
            if gen and self._docs[0] == gen:
                return self._docs[1]
        grouped = _docs(chunks)
        if gen:
            with self._lock:
                self._docs = (gen, grouped)
        return grouped

    def get(self, gen: str, old: DocumentView, new: DocumentView) -> list[Change]:
        key = (gen, old.doc_id, new.doc_id)
        with self._lock:
            if key not in self._cache:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[key] = align(numbered(old), numbered(new))
            return self._cache[key]


ALIGNMENTS = _Alignments()


@dataclass(frozen=True)
class VersionLink:
    """How one article of a view relates to the neighbouring version: a line, and the article it points to."""

    text: str  # e.g. "2024年修改，修改前为2018年版第四十三条"
    doc_id: str = ""  # the other version's doc_id ("" when there is nothing to point at)
    article: str = ""


def version_links(service: AssistantService, view: DocumentView) -> dict[str, VersionLink]:
    """Per article of a regulation, its counterpart in the previous version (for the current text) or in the next
    version (for an old one): changed, renumbered, split out, new or deleted. Unchanged same-numbered articles get none."""
    if view.kind != "regulation" or len(view.versions) < 2:
        return {}
    reader = service.reader()
    gen = reader.gen.name if reader.gen else ""
    docs = ALIGNMENTS.docs(gen, reader.chunks)
    ids = [i for _v, i in view.versions]
    at = ids.index(view.doc_id)
    out: dict[str, VersionLink] = {}
    if at > 0:  # compared with the previous version
        old = _view(docs, ids[at - 1])
        if old is not None:
            oy, ny = old.version[:4], view.version[:4]
            for c in ALIGNMENTS.get(gen, old, view):
                if c.new is None:
                    continue
                if c.status == "修改":
                    out[c.now.number] = VersionLink(f"{ny}年修改，修改前为{oy}年版{c.was.number}", old.doc_id, c.was.number)
                elif c.status == "新增" and c.source is not None:
                    out[c.now.number] = VersionLink(f"{ny}年新增，由{oy}年版{c.source.number}拆分而来", old.doc_id, c.source.number)
                elif c.status == "新增":
                    out[c.now.number] = VersionLink(f"{ny}年新增条文")
                elif c.was.number != c.now.number:
                    out[c.now.number] = VersionLink(f"内容未变，{oy}年版为{c.was.number}", old.doc_id, c.was.number)
    if at + 1 < len(ids):  # compared with the next version
        new = _view(docs, ids[at + 1])
        if new is not None:
            ny = new.version[:4]
            for c in ALIGNMENTS.get(gen, view, new):
                if c.old is None or c.was.number in out:
                    continue
                if c.status == "修改":
                    out[c.was.number] = VersionLink(f"{ny}年版已修改，现为{c.now.number}", new.doc_id, c.now.number)
                elif c.status == "删除":
                    out[c.was.number] = VersionLink(f"{ny}年版已删除")
                elif c.was.number != c.now.number:
                    out[c.was.number] = VersionLink(f"内容未变，{ny}年版为{c.now.number}", new.doc_id, c.now.number)
    return out


def version_notes(answer: Answer, chunks: Sequence[Chunk], gen: str = "") -> Answer:
    """Add "《标题》第N条：2024年修改前为第M条：…" to the answer's notes for each cited current article whose earlier
    version in the knowledge base differs (a 新增 article says so too)."""
    notes: list[str] = []
    docs: dict[str, list[Chunk]] | None = None
    for c in answer.citations:
        ch = c.chunk
        if ch.superseded or not ch.version or ch.kind != "regulation" or not ch.article.startswith("第"):
            continue
        docs = docs if docs is not None else ALIGNMENTS.docs(gen, chunks)
        older = sorted((d[0].version, i) for i, d in docs.items() if d[0].title == ch.title and d[0].version < ch.version)
        if not older:
            continue
        old_view, new_view = _view(docs, older[-1][1]), _view(docs, ch.doc_id)
        if old_view is None or new_view is None:
            continue
        changes = ALIGNMENTS.get(gen, old_view, new_view)
        line = earlier_version(changes, ch.article, old_view.version[:4], ch.version[:4])
        note = f"《{ch.title}》{ch.article}：{line}" if line else ""
        if note and note not in notes:
            notes.append(note)
    return dataclasses.replace(answer, notes=(*answer.notes, *notes)) if notes else answer


# ---------------------------------------------------------------- 已废止: the admin's list in the knowledge folder


def repealed_titles(knowledge_dir: Path) -> frozenset[str]:
    """Titles listed in 废止.txt (one per line; blank lines and # comments ignored)."""
    path = Path(knowledge_dir) / REPEAL_FILE
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except FileNotFoundError:
        return frozenset()
    except (OSError, UnicodeDecodeError) as e:
        raise error("repeal_file_unreadable", path=path, reason=getattr(e, "strerror", None) or type(e).__name__) from None
    return frozenset(t for t in (line.strip().strip("《》") for line in lines) if t and not t.startswith("#"))


def set_repealed(service: AssistantService, title: str, repealed: bool) -> tuple[str, bool]:
    """Mark a document 已废止 (or undo it) by title, file name or path: writes 废止.txt in the knowledge folder.
    Returns (title, whether the list changed). Takes effect on the next question; no re-ingest needed."""
    name = title.strip().strip("《》")
    titles = {e.title for e in service.document_status() if e.title}
    if name not in titles:
        rel = service.resolve(name)  # a file name or path: its title
        name = next(e.title for e in service.document_status() if e.path == rel)
    path = service.settings.knowledge_dir / REPEAL_FILE
    current = repealed_titles(service.settings.knowledge_dir)
    if (name in current) == repealed:
        return name, False
    lines = path.read_text("utf-8-sig").splitlines() if path.is_file() else ["# 已废止的文件，每行一个标题：仍可检索（标注已废止），不再据以回答"]
    if repealed:
        lines.append(name)
    else:
        lines = [line for line in lines if line.strip().strip("《》") != name]
    try:
        path.write_text("\n".join(lines) + "\n", "utf-8")
    except OSError as e:
        raise error("repeal_file_unwritable", path=path, reason=e.strerror or type(e).__name__) from None
    return name, True


def mark_repealed(chunk: Chunk, repealed: frozenset[str] | set[str]) -> Chunk:
    return dataclasses.replace(chunk, repealed=True) if chunk.title in repealed and not chunk.repealed else chunk


def mark_repealed_hits(hits: Sequence[Hit], repealed: frozenset[str] | set[str]) -> list[Hit]:
    """Search results with the chunks of 已废止 documents labelled (they stay in the results, as history)."""
    if not repealed:
        return list(hits)
    return [dataclasses.replace(h, chunk=mark_repealed(h.chunk, repealed)) if h.chunk.title in repealed else h for h in hits]


def answerable(hits: Sequence[Hit], k: int) -> tuple[list[Hit], list[str]]:
    """The hits an answer may use (no 已废止 document), at most ``k``, re-ranked; and the repealed titles left out of
    the first ``k``."""
    dropped = sorted({h.chunk.title for h in hits[:k] if h.chunk.repealed})
    kept = [h for h in hits if not h.chunk.repealed][:k]
    return [dataclasses.replace(h, rank=n) for n, h in enumerate(kept, 1)], dropped
