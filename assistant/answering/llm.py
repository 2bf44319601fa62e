"""Generative answers from an OpenAI-compatible chat model, held to the same citation guarantee as the extractive answerer.

The model sees only the current hits, numbered [1]..[k]. Whatever it writes goes through answering.verify: markers that
point nowhere or at a chunk that does not support the sentence are dropped, unsupported sentences are marked, and an
answer left with no valid citation becomes the standard refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from assistant.answering.extractive import legacy_decision, refusal, related_answer, superseded_warnings
from assistant.answering.injection import sanitize
from assistant.answering.verify import _CLAIM, supports, verify
from assistant.core.protocols import ChatModel
from assistant.core.types import MARKER, Answer, Chunk, Decision, Hit, final_answer
from assistant.llm.prompts import load_prompt
from assistant.text import query_tokens
from assistant.text.similarity import overlap

NO_BASIS = "知识库中没有依据"

# Small models write 【1】, ［1］, [1, 2] or [资料1]; fold them to [1][2] before verification.
_ODD_MARKER = re.compile(r"[\[【［](?:资料|来源|文件)?\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
# A trailing "参考资料：" list restates sources; the verified citations replace it.
_REF_SECTION = re.compile(r"\n\s*(?:#+\s*)?\**(?:参考资料|参考文献|参考|资料来源|来源|引用)\**\s*(?:[:：]|\n).*\Z", re.S)
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)


def clean_markers(text: str) -> str:
    text = _THINK.sub("", text)
    text = _REF_SECTION.sub("", text)
    return _ODD_MARKER.sub(lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,，、]\s*", m.group(1))), text).strip()


def attach_markers(
    text: str, context: Sequence[Chunk], min_overlap: float = 0.6, min_support: float = 0.2, question: str | None = None
) -> str:
    """Give an uncited (or wrongly cited) sentence the one chunk it clearly restates; verify() still checks every marker."""
    out, pos = [], 0
    for m in _CLAIM.finditer(text):
        if m.start() < pos or not m.group(0):
            continue
        claim = m.group(0)
        body = MARKER.sub("", claim).rstrip()
        nums = [int(x) for x in MARKER.findall(claim)]
        valid = [
            n
            for n in nums
            if 1 <= n <= len(context)
            and overlap(body, context[n - 1].retrieval_text) >= min_support
            and (question is None or supports(body, context[n - 1], question))
        ]
        if not valid and len(query_tokens(body)) >= 2:
            scores = [overlap(body, c.text) for c in context]
            best = max(range(len(scores)), key=scores.__getitem__, default=-1)
            if best >= 0 and scores[best] >= min_overlap:
                claim = f"{body}[{best + 1}]"
        out.append(text[pos : m.start()] + claim)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


class LLMAnswerer:
    """Prompted with the numbered hits only; the reply is verified before it becomes an Answer."""

    name = "llm"

    def __init__(
        self,
        chat: ChatModel,
        prompts_dir: Path,
        min_relevance: float = 0.34,
        max_context: int = 5,
        max_chunk_chars: int = 500,
        attach_overlap: float = 0.6,
    ) -> None:
        self.chat = chat
        self.system = load_prompt(prompts_dir, "answer_system")
        self.user = load_prompt(prompts_dir, "answer_user")
        self.min_relevance = min_relevance
        self.max_context = max_context
        self.max_chunk_chars = max_chunk_chars
        self.attach_overlap = attach_overlap

    def context(self, hits: Sequence[Hit]) -> list[Chunk]:
        return [h.chunk for h in hits[: self.max_context]]

    def messages(self, question: str, hits: Sequence[Hit], query: str = "") -> list[tuple[str, str]]:
        blocks = []
        for n, chunk in enumerate(self.context(hits), 1):
            text = chunk.text if len(chunk.text) <= self.max_chunk_chars else chunk.text[: self.max_chunk_chars] + "……"
            blocks.append(f"[{n}] {chunk.label}\n{sanitize(text)}")
        # The rewritten query carries what the follow-up refers to; no earlier turn enters the prompt.
        note = f"\n（结合上文，完整的问题是：{query}）" if query and query != question else ""
        user = self.user.format(context="\n\n".join(blocks), question=question, query_note=note)
        return [("system", self.system), ("user", user)]

    def answer(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Answer:
        return final_answer(self.stream(question, hits, query, decision))

    def stream(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Iterator[str | Answer]:
        """Yield the model's raw deltas as they come, then the verified Answer (whose text replaces them)."""
        query = query or question
        decision = decision or legacy_decision(hits, query, self.min_relevance)
        if not hits or decision.outcome != "answer":
            ans = related_answer(question, hits, query, decision) if hits and decision.outcome == "related" else refusal(question, hits, query)
            yield ans.text
            yield ans
            return
        parts: list[str] = []
        for delta in self.chat.stream(self.messages(question, hits, query)):
            parts.append(delta)
            yield delta
        yield self.finish(question, hits, query, "".join(parts), decision)

    def finish(self, question: str, hits: Sequence[Hit], query: str, raw: str, decision: Decision | None = None) -> Answer:
        context = self.context(hits)
        text = clean_markers(raw)
        if not text or (NO_BASIS in text and not MARKER.search(text)):
            return refusal(question, hits, query)
        text = attach_markers(text, context, self.attach_overlap, question=query)
        checked = verify(text, context, question=query)
        if not checked.citations:
            return refusal(question, hits, query)
        warnings = superseded_warnings(checked.citations)
        body = checked.text.strip()
        if warnings:
            body += "\n\n" + "\n".join(warnings)
        return Answer(
            question=question,
            text=body,
            citations=checked.citations,
            hits=tuple(hits),
            query=query,
            warnings=warnings,
            unsupported=checked.unsupported,
            notes=decision.notes if decision else (),
            confidence=decision.confidence if decision else None,
        )
