"""Citation verification shared by chat answers and drafts.

Text arrives with [n] markers that refer to a numbered context list. Every kept marker must name a
retrieved chunk that actually supports its sentence; the quote shown is a verbatim sentence of that chunk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.core.types import MARKER, UNSUPPORTED_MARK, Chunk, Citation
from assistant.text import query_tokens, sentences
from assistant.text.similarity import overlap

# A sentence ends at 。！？ or a newline; markers right after the end stay with their sentence.
_CLAIM = re.compile(r"[^。！？\n]*[。！？]?(?:\s*\[\d{1,3}\])*")


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    unsupported: tuple[str, ...]
    dropped: tuple[int, ...]  # marker numbers that pointed nowhere or at a chunk that does not support the claim


def best_quote(claim: str, chunk: Chunk, max_len: int = 160) -> str:
    """The chunk sentence that best supports the claim; always a substring of chunk.text."""
    best, best_score = "", -1.0
    for sent in sentences(chunk.text):
        score = overlap(claim, sent)
        if score > best_score:
            best, best_score = sent, score
    best = best or chunk.text
    if len(best) > max_len:
        # Trim to a window that still holds most claim tokens; stays a verbatim substring.
        toks = [t for t in query_tokens(claim) if t in best]
        start = min((best.find(t) for t in toks), default=0)
        start = max(0, min(start, len(best) - max_len))
        best = best[start : start + max_len]
    return best


_QUESTION_END = re.compile(r"(?:[？?]|[吗呢么]|什么|哪些|怎么|如何)\s*$")


def supports(claim: str, chunk: Chunk, question: str = "", min_support: float = 0.5) -> bool:
    """Whether a chunk states what the claim says (strict check for chat answers).

    Rejected: a question; an echo of the user's question (nothing beyond its words); a claim whose own content words
    (those not already in the question) are mostly absent from the chunk, or absent from the sentence quoted for it.
    """
    body = MARKER.sub("", claim).strip().rstrip("。！；;")
    if not body or _QUESTION_END.search(body):
        return False
    toks = set(query_tokens(body))
    new = toks - set(query_tokens(question)) if question else toks
    if not new:
        return False
    ctoks = set(query_tokens(f"{chunk.label} {chunk.retrieval_text}"))  # naming the document and article is support
    if sum(1 for t in new if t in ctoks) / len(new) < min_support:
        return False
    quote = set(query_tokens(best_quote(body, chunk)))
    return bool(new & quote)


def verify(text: str, context: Sequence[Chunk], min_support: float = 0.2, question: str | None = None) -> Verified:
    """Check and renumber [n] markers. ``context[i]`` is what [i+1] referred to when the text was written.

    With ``question`` (chat answers), a marker also needs :func:`supports`: the sentence must state something its
    source states, not ask, and not merely repeat the question.
    """
    cited: dict[str, int] = {}  # chunk id -> new number
    citations: list[Citation] = []
    unsupported: list[str] = []
    dropped: list[int] = []
    out: list[str] = []
    pos = 0
    for m in _CLAIM.finditer(text):
        if m.start() < pos or not m.group(0):
            continue
        out.append(text[pos : m.start()])
        pos = m.end()
        claim = m.group(0)
        body = MARKER.sub("", claim).rstrip()
        kept: list[int] = []
        for num in dict.fromkeys(int(x) for x in MARKER.findall(claim)):
            chunk = context[num - 1] if 1 <= num <= len(context) else None
            if chunk is None or overlap(body, chunk.retrieval_text) < min_support:
                dropped.append(num)
                continue
            if question is not None and not supports(body, chunk, question):
                dropped.append(num)
                continue
            if chunk.id not in cited:
                cited[chunk.id] = len(cited) + 1
                citations.append(Citation(cited[chunk.id], chunk, best_quote(body, chunk)))
            kept.append(cited[chunk.id])
        is_claim = len(query_tokens(body)) >= 2 and not body.rstrip().endswith(("：", ":"))
        if kept:
            out.append(body + "".join(f"[{k}]" for k in kept))
        elif is_claim and body.strip():
            unsupported.append(body.strip())
            out.append(body + UNSUPPORTED_MARK)
        else:
            out.append(body)
    out.append(text[pos:])
    return Verified("".join(out), tuple(citations), tuple(unsupported), tuple(dropped))
