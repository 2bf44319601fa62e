"""Answers at once: the verified extractive answer first, the model's answer after it.

With an LLM answerer a user would wait 25-40 s on a blank screen (Qwen 1.5B on two cores). This answerer quotes the
provisions at once (an Answer with ``provisional=True``, well under a second), then streams the model's text, and ends
with the model's Answer only when it verifies: a cited answer whose every sentence has a valid citation. An answer that
fails verification, or a model that is down or times out, leaves the extractive answer as the final one, with a note
saying why.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence

from assistant.answering.extractive import ExtractiveAnswerer, legacy_decision
from assistant.answering.llm import LLMAnswerer
from assistant.core.errors import AssistantError
from assistant.core.messages import say
from assistant.core.types import Answer, Decision, Hit, final_answer

log = logging.getLogger(__name__)


def verified(answer: Answer) -> bool:
    """The model's answer may replace the extractive one: it answers, cites, and has no unsupported sentence."""
    return answer.outcome == "answer" and bool(answer.citations) and not answer.unsupported


class AtOnceAnswerer:
    """The Answerer protocol over two answerers: ``quick`` (extractive) shown first, ``model`` (LLM) replacing it."""

    name = "llm"

    def __init__(self, quick: ExtractiveAnswerer, model: LLMAnswerer) -> None:
        self.quick = quick
        self.model = model
        self.min_relevance = model.min_relevance

    def answer(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Answer:
        return final_answer(self.stream(question, hits, query, decision))

    def stream(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Iterator[str | Answer]:
        """Yield the provisional extractive Answer, the model's raw deltas, then the final Answer (the model's when it
        verifies, else the extractive one with a note). Related articles and refusals need no model: they come at once."""
        query = query or question
        decision = decision or legacy_decision(hits, query, self.min_relevance)
        if not hits or decision.outcome != "answer":
            yield from self.model.stream(question, hits, query, decision)
            return
        first = self.quick.answer(question, hits, query, decision)
        if first.outcome != "answer":  # nothing to show at once; the model alone, as before
            yield from self.model.stream(question, hits, query, decision)
            return
        yield dataclasses.replace(first, provisional=True, notes=(*first.notes, say("note_at_once_pending")))
        final: Answer | None = None
        try:
            for item in self.model.stream(question, hits, query, decision):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
        except AssistantError as e:  # the model is down, timed out or refused: the extractive answer stands
            log.warning("at once: the model gave no answer (%s); keeping the extractive one", e.message)
            yield dataclasses.replace(first, notes=(*first.notes, say("note_at_once_model_down", reason=e.message)))
            return
        if final is not None and verified(final):
            yield final
            return
        log.info("at once: the model's answer did not verify; keeping the extractive one")
        yield dataclasses.replace(first, notes=(*first.notes, say("note_at_once_unverified")))
