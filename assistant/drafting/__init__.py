"""Drafting report sections in the style of the unit's past reports, with verified citations.

Pipeline: outline (learned from past reports; the user may edit it) -> each section written from
per-section retrieval -> check pass (the chat-answer verifier, placeholders, figures) -> .docx / .md export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from assistant.core.messages import error
from assistant.core.protocols import ChatModel
from assistant.core.types import Chunk
from assistant.drafting.check import check_draft
from assistant.drafting.facts import load_facts
from assistant.drafting.model import CheckResult, Draft, Heading, Outline, Paragraph, Section
from assistant.drafting.outline import parse_outline, propose_outline
from assistant.drafting.writer import Progress, write_sections

__all__ = [
    "CheckResult",
    "Draft",
    "Heading",
    "Outline",
    "Paragraph",
    "Section",
    "draft",
    "load_facts",
    "parse_outline",
    "propose_outline",
]


def _facts(facts: Sequence[Chunk] | Iterable[Path | str] | Path | str | None) -> tuple[Chunk, ...]:
    if facts is None:
        return ()
    if isinstance(facts, (str, Path)):
        return load_facts([facts])
    items = list(facts)
    if all(isinstance(x, Chunk) for x in items):
        return tuple(items)
    return load_facts(items)


def draft(
    service,
    topic: str,
    outline: Outline | str | None = None,
    facts: Sequence[Chunk] | Iterable[Path | str] | Path | str | None = None,
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
) -> Draft:
    """Draft ``topic``. ``outline``: an Outline, outline text the user edited, or None to propose one.
    ``facts``: facts files (or already loaded fact chunks) — the only source of the unit's figures."""
    topic = (topic or "").strip()
    if not topic:
        raise error("topic_empty")
    fact_chunks = _facts(facts)
    if outline is None:
        outline = propose_outline(service, topic, chat_model)
    elif isinstance(outline, str):
        outline = parse_outline(outline, topic)
    written = write_sections(service, outline, topic, fact_chunks, chat_model, progress)
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
    from dataclasses import replace

    return replace(result, check=check_draft(result, written.allowed_texts))
