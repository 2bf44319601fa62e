"""Pure functions that turn answers and index facts into HTML for the web UI.

Every piece of document or user text goes through ``escape``: sources are untrusted (an uploaded
file may contain markup or script), and the chat renders Markdown, so both HTML and Markdown
syntax characters are neutralized before anything is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from assistant.core.types import KIND_LABELS, MARKER, OUTCOME_LABELS, UNSUPPORTED_MARK, Answer, Citation, IndexedDocument, KbStats

# Characters that HTML, Markdown (links, emphasis, code, tables) or KaTeX ($) would interpret.
_SPECIAL = {c: f"&#{ord(c)};" for c in "&<>\"'`*_[]()#|~$!\\{}=+-"}
_TABLE = str.maketrans(_SPECIAL)



def escape(text: str) -> str:
    """Text -> inert HTML: every special character as an entity, newlines as <br>.

    The result has no newline, so Markdown sees one raw-HTML line and never parses inside it.
    """
    return "<br>".join(line.translate(_TABLE) for line in text.split("\n"))


def _attr(text: str) -> str:
    """Text for a double-quoted attribute value: one line, fully escaped."""
    return escape(" ".join(text.split("\n")))


def citation_tip(c: Citation) -> str:
    """Plain text shown when hovering a marker: 《文件》第N条：“quote”."""
    return f"{c.label}：“{c.quote}”"


def doc_href(c: Any) -> str:
    """The 原文 page of a citation, at its article with the quote highlighted: /doc/<doc_id>?hl=<quote>#<article>.

    ``c`` is a Citation (its chunk's doc_id) or a saved citation record (its chunk_id: the page finds the document
    that holds that chunk, or else the document of its file)."""
    chunk = getattr(c, "chunk", None)
    ref = chunk.doc_id if chunk is not None else getattr(c, "chunk_id", "")
    article = chunk.article if chunk is not None else getattr(c, "article", "")
    href = f"/doc/{quote(ref, safe='')}?hl={quote(c.quote, safe='')}"
    source: str = getattr(c, "source", "")
    if chunk is None and source:  # the file, should the saved chunk have changed since
        href += f"&src={quote(source, safe='')}"
    return href + (f"#{quote(article, safe='')}" if article else "")


def marker_html(c: Citation) -> str:
    """[n] that reveals its source on hover or focus and opens the 原文 page at its article when clicked (new tab);
    CSS in app.CSS shows the pop-up."""
    return (
        f'<a class="cite" href="{_attr(doc_href(c))}" target="_blank" rel="noopener" data-n="{c.n}" '
        f'aria-label="{_attr(citation_tip(c))}">[{c.n}]'
        f'<span class="cite-pop" role="tooltip"><b>{escape(c.label)}</b><br>“{escape(c.quote)}”</span></a>'
    )


def _with_markers(text: str, citations: Sequence[Citation]) -> str:
    by_n = {c.n: c for c in citations}
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        c = by_n.get(int(m.group(1)))
        if c is None:  # a marker without a citation stays plain text
            continue
        out.append(escape(text[pos : m.start()]))
        out.append(marker_html(c))
        pos = m.end()
    out.append(escape(text[pos:]))
    body = "".join(out)
    mark = escape(UNSUPPORTED_MARK)
    return body.replace(mark, f'<span class="unsupported" title="这句话没有找到支持它的条文">{mark}</span>')


def answer_html(answer: Answer) -> str:
    """The chat bubble for a finished answer: text with live markers, then a folded list of the quoted articles."""
    cls = {"answer": "answer", "related": "answer related", "none": "answer refused"}[answer.outcome]
    badge = f'<div class="outcome outcome-{answer.outcome}">{escape(OUTCOME_LABELS[answer.outcome])}</div>'
    notes = "".join(f'<div class="understood">{escape(n)}</div>' for n in answer.notes)
    parts = [f'<div class="{cls}">{badge}{notes}{_with_markers(answer.text, answer.citations)}']
    if answer.citations:
        items = "".join(
            f'<li><span class="src-n">[{c.n}]</span> {escape(c.label)}：<q>{escape(c.quote)}</q></li>' for c in answer.citations
        )
        parts.append(f'<details class="cite-list"><summary>引用条文（{len(answer.citations)}）</summary><ol>{items}</ol></details>')
    parts.append("</div>")
    return "".join(parts)


def streaming_html(text: str) -> str:
    """A partial answer while it is generated: markers are not verified yet, so they stay plain."""
    return f'<div class="answer streaming">{escape(text)}<span class="cursor">▍</span></div>'


def user_html(text: str) -> str:
    return f'<div class="question">{escape(text)}</div>'


def error_html(message: str) -> str:
    return f'<div class="error">错误：{escape(message)}</div>'


def sources_html(answer: Answer | None) -> str:
    """The side panel: each citation with its label, the verbatim quote and where it comes from."""
    if answer is None:
        return '<div class="sources empty">提问后，这里显示回答引用的条文原文。</div>'
    parts = ['<div class="sources">']
    for w in answer.warnings:
        parts.append(f'<div class="src-warn">⚠ {escape(w)}</div>')
    if not answer.citations:
        parts.append('<div class="src-none">本次回答没有引用条文。</div>')
    for c in answer.citations:
        ch = c.chunk
        old = f'<div class="src-old">⚠ {escape(ch.superseded_notice)}</div>' if ch.superseded else ""
        where = " / ".join(p for p in (*ch.path, ch.source) if p)
        parts.append(
            f'<div class="src{" superseded" if ch.superseded else ""}" id="src-{c.n}">'
            f'<div class="src-head"><span class="src-n">[{c.n}]</span> {escape(c.label)}</div>'
            f'<blockquote class="src-quote">{escape(c.quote)}</blockquote>{old}'
            f'<div class="src-meta">{escape(where)} · <a class="src-open" href="{_attr(doc_href(c))}" target="_blank" '
            f'rel="noopener">查看原文</a></div></div>'
        )
    cited = {c.chunk.id for c in answer.citations}
    others = [h for h in answer.hits if h.chunk.id not in cited]
    if others:
        items = "".join(f"<li>{escape(h.chunk.label)}</li>" for h in others)
        parts.append(f'<details class="src-other"><summary>检索到但未引用（{len(others)}）</summary><ul>{items}</ul></details>')
    parts.append("</div>")
    return "".join(parts)


def conversation_sources_html(turns: Sequence[Mapping[str, Any]]) -> str:
    """The side panel for a whole conversation: the sources of every answer (``turn["sources"]``, sources_html of
    that answer), grouped per question, the latest first and open, so earlier answers' sources stay reachable."""
    groups = [(n, t) for n, t in enumerate(turns, 1) if t.get("sources")]
    if not groups:
        return sources_html(None)
    parts = ['<div class="sources-all">']
    for i, (n, t) in enumerate(reversed(groups)):
        parts.append(
            f'<details class="src-turn" id="turn-{n}"{" open" if i == 0 else ""}><summary>第 {n} 问：{escape(str(t.get("q", "")))}</summary>'
            f'{t["sources"]}</details>'
        )
    parts.append("</div>")
    return "".join(parts)


def sources_pending() -> str:
    return '<div class="sources empty">正在检索相关条文…</div>'


def document_rows(documents: Sequence[IndexedDocument]) -> list[list]:
    """Rows for the knowledge-base table: file, title, kind, version, chunk count."""
    return [[d.path, d.title, KIND_LABELS.get(d.kind, d.kind), d.version, d.chunks] for d in sorted(documents, key=lambda d: d.path)]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def stats_html(stats: KbStats) -> str:
    kinds = "，".join(f"{KIND_LABELS.get(k, k)} {v}" for k, v in sorted(stats.kinds.items()))
    head = (
        f"知识库 <b>{escape(stats.kb)}</b>：{stats.documents} 个文件，"
        f"{stats.chunks} 个条块{('（' + escape(kinds) + '）') if kinds else ''}；"
        f"向量模型 {escape(stats.embedder or '—')}；索引 {_size(stats.index_bytes)}"
    )
    rows = "".join(f"<li>{escape(str(msg))}</li>" for msg in stats.errors.values())
    errs = f'<details class="kb-errors"><summary>上次导入的问题（{len(stats.errors)}）</summary><ul>{rows}</ul></details>' if stats.errors else ""
    return f'<div class="kb-stats">{head}{errs}</div>'


def ingest_html(summary: str, failures: Sequence[str]) -> str:
    rows = "".join(f"<li>{escape(f)}</li>" for f in failures)
    fails = f'<ul class="kb-failures">{rows}</ul>' if failures else ""
    return f'<div class="kb-result">{escape(summary)}{fails}</div>'
