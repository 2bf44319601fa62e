"""Drafting report sections in the style of the unit's past reports, with verified citations.

Pipeline: outline (learned from past reports; the user may edit it) -> each section written from
per-section retrieval -> check pass (the chat-answer verifier, placeholders, figures) -> .docx / .md export.
With a model the template draft comes first (stream_draft), and the model's rewording replaces it section by section.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

from assistant.core.messages import error
from assistant.core.protocols import ChatModel
from assistant.core.types import Chunk
from assistant.drafting.check import check_draft
from assistant.drafting.facts import load_facts
from assistant.drafting.model import CheckResult, Draft, Heading, Outline, Paragraph, Section
from assistant.drafting.outline import parse_outline, propose_outline
from assistant.drafting.writer import Progress, write_stream

__all__ = [
    "CheckResult",
    "Draft",
    "Heading",
    "Outline",
    "Paragraph",
    "Section",
    "draft",
    "final_draft",
    "load_facts",
    "parse_outline",
    "propose_outline",
    "stream_draft",
]


def _facts(facts: Sequence[Chunk] | Iterable[Path | str] | Path | str | None) -> tuple[Chunk, ...]:
    if facts is None:
        return ()
    if isinstance(facts, (str, Path)):
        return load_facts([facts])
    items = list(facts)
    if all(isinstance(x, Chunk) for x in items):
        return tuple(cast(list[Chunk], items))
    return load_facts(cast(list[Path | str], items))


def stream_draft(
    service,
    topic: str,
    outline: Outline | str | None = None,
    facts: Sequence[Chunk] | Iterable[Path | str] | Path | str | None = None,
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
    at_once: bool = True,
) -> Iterator[Draft]:
    """Draft ``topic``: with a model and ``at_once``, the template draft first (``provisional``; the sections the
    model will reword are ``pending``), a snapshot as each section is reworded, and the final draft last. Otherwise
    only the final draft. ``outline``: an Outline, outline text the user edited, or None to propose one.
    ``facts``: facts files (or already loaded fact chunks) — the only source of the unit's figures."""
    topic = (topic or "").strip()
    if not topic:
        raise error("topic_empty")
    fact_chunks = _facts(facts)
    if outline is None:
        outline = propose_outline(service, topic, chat_model)
    elif isinstance(outline, str):
        outline = parse_outline(outline, topic)
    for written in write_stream(service, outline, topic, fact_chunks, chat_model, progress, at_once):
        result = Draft(
            topic=topic,
            outline=outline,
            sections=written.sections,
            citations=tuple(written.numbering.citations),
            warnings=written.warnings,
            backend="llm" if written.llm_sentences else "template",
            sentences=written.sentences,
            llm_sentences=written.llm_sentences,
        )
        yield replace(result, check=check_draft(result, written.allowed_texts))


def final_draft(drafts: Iterable[Draft]) -> Draft:
    """The last draft of a draft stream (the provisional snapshots come before it)."""
    final = None
    for d in drafts:
        final = d
    if final is None or final.provisional:
        raise ValueError("a draft stream ended without its final draft")
    return final


def draft(
    service,
    topic: str,
    outline: Outline | str | None = None,
    facts: Sequence[Chunk] | Iterable[Path | str] | Path | str | None = None,
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
) -> Draft:
    """The final draft of ``topic`` (see :func:`stream_draft`), without the snapshots."""
    return final_draft(stream_draft(service, topic, outline, facts, chat_model, progress, at_once=False))
