"""Offline answerer: picks the retrieved sentences that answer the question and cites each one verbatim."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from assistant.retrieval import relevance
from assistant.text import query_tokens, sentences
from assistant.types import Answer, Citation, Hit

_ARTICLE_PREFIX = re.compile(r"^第[一二三四五六七八九十百千零〇\d]+条(?:之[一二三四五六七八九十]+)?\s*")

REFUSAL = "知识库中没有找到回答该问题的依据。请换一种问法，或先把相关文件加入知识库。"


def refusal(question: str, hits: Sequence[Hit], query: str = "") -> Answer:
    return Answer(question=question, text=REFUSAL, refused=True, hits=tuple(hits), query=query or question)


def superseded_warnings(citations: Sequence[Citation]) -> tuple[str, ...]:
    """One line per superseded document cited, so an old text is never mistaken for the rule in force."""
    seen: dict[str, str] = {}
    for c in citations:
        ch = c.chunk
        if ch.superseded and ch.title not in seen:
            seen[ch.title] = f"注意：《{ch.title}》（{ch.version}年版）为旧版文本，已被{ch.superseded_by or '新版'}取代，请以现行版本为准。"
    return tuple(seen.values())


_ITEM_LINE = re.compile(r"\n+（[一二三四五六七八九十]+）[^\n]*")


def with_items(sentence: str, text: str, max_items: int = 8, max_chars: int = 500) -> str:
    """A lead-in that ends with ：(下列情形之一的：) is useless alone; extend it over the （一）（二）… items that follow.

    Returns a verbatim substring of ``text``.
    """
    start = text.find(sentence)
    if start < 0 or not sentence.endswith(("：", ":")):
        return sentence
    end = start + len(sentence)
    for n, m in enumerate(_ITEM_LINE.finditer(text, end)):
        if m.start() != end or n >= max_items or m.end() - start > max_chars:
            break
        end = m.end()
    return text[start:end]


def _compact(quote: str) -> str:
    """Items on their own lines inside a numbered answer line, without the blank lines between them."""
    return re.sub(r"\n+", "\n   ", quote)


class ExtractiveAnswerer:
    """Select up to ``max_sentences`` supporting sentences, at most two per chunk, each cited verbatim."""

    name = "extractive"

    def __init__(self, min_relevance: float = 0.34, max_sentences: int = 4, max_chunks: int = 4) -> None:
        self.min_relevance = min_relevance
        self.max_sentences = max_sentences
        self.max_chunks = max_chunks

    def answer(self, question: str, hits: Sequence[Hit], query: str = "") -> Answer:
        query = query or question
        if not hits or relevance(hits) < self.min_relevance:
            return refusal(question, hits, query)
        q = set(query_tokens(query))
        scored: list[tuple[float, int, int, str]] = []
        for rank, hit in enumerate(hits[: self.max_chunks * 2]):
            for pos, sent in enumerate(sentences(hit.chunk.text)):
                sent = _ARTICLE_PREFIX.sub("", sent)  # the label already says 第N条
                if not sent:
                    continue
                toks = set(query_tokens(sent))
                common = q & toks
                if not common:
                    continue
                # Favor sentences that cover the query and come from higher-ranked chunks.
                score = len(common) / len(q) + 0.3 / (rank + 1) + (0.05 if pos == 0 else 0.0)
                scored.append((score, rank, pos, sent))
        if not scored:
            return refusal(question, hits, query)
        scored.sort(key=lambda x: -x[0])
        chosen: list[tuple[int, int, str]] = []
        per_chunk: dict[int, int] = {}
        for _score, rank, pos, sent in scored:
            if len(chosen) >= self.max_sentences:
                break
            if per_chunk.get(rank, 0) >= 2 or (rank not in per_chunk and len(per_chunk) >= self.max_chunks):
                continue
            per_chunk[rank] = per_chunk.get(rank, 0) + 1
            chosen.append((rank, pos, sent))
        chosen.sort()
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        lines = []
        for rank, _pos, sent in chosen:
            chunk = hits[rank].chunk
            quote = with_items(sent, chunk.text)
            if rank not in numbers:
                numbers[rank] = len(numbers) + 1
                citations.append(Citation(numbers[rank], chunk, quote))
            lines.append(f"{len(lines) + 1}. {chunk.label}规定：{_compact(quote)}[{numbers[rank]}]")
        text = "根据知识库中的文件：\n" + "\n".join(lines)
        warnings = superseded_warnings(citations)
        if warnings:
            text += "\n\n" + "\n".join(warnings)
        return Answer(question=question, text=text, citations=tuple(citations), hits=tuple(hits), query=query, warnings=warnings)

    def stream(self, question: str, hits: Sequence[Hit], query: str = "") -> Iterator[str | Answer]:
        ans = self.answer(question, hits, query)
        yield ans.text
        yield ans
