"""Write the sections of an outline, in steps: plan (plan.py) -> retrieve (retrieve.py) -> template (template.py)
-> reword (reword.py, with a ChatModel) -> check (check.py).

Per section: requirements are retrieved from regulations only, facts from the user's facts and responsibility lists
only, and past reports only as style examples (never cited, their figures never copied). The text is assembled from
cited requirements and facts; with a ChatModel the model names each requirement (关于…的要求, in place of a quote) and
may reword each fact, and what it writes is used only when it keeps to its one source (no added figure, article, act
or clause). Every paragraph then goes through verify.

The template draft needs no model, so it is written for every section first (about a second) and can be shown at
once; the model then rewords one section at a time, and a section's reworded paragraph replaces the template's only
when it passes the same checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assistant.core.errors import AssistantError
from assistant.core.messages import say
from assistant.core.protocols import ChatModel
from assistant.core.types import MARKER, Chunk
from assistant.drafting.check import Numbering, allowed_figures, finish_paragraph
from assistant.drafting.model import Outline, Paragraph, Section
from assistant.drafting.plan import SectionPlan, plan
from assistant.drafting.retrieve import (
    REQUIREMENTS_K,
    Weights,
    assign_facts,
    list_rows,
    match_points,
    requirements,
    style_examples,
)
from assistant.drafting.reword import llm_rewrites, rewritable
from assistant.drafting.template import Item, assemble, template_items

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Written:
    sections: tuple[Section, ...]
    numbering: Numbering
    warnings: tuple[str, ...]
    allowed_texts: tuple[str, ...]
    sentences: int = 0  # cited sentences the model may reword (requirements and facts)
    llm_sentences: int = 0  # of those, the ones the model reworded and the checks accepted


@dataclass(frozen=True)
class Work:
    """One section planned and retrieved: its template sentences (none for a heading-only section)."""

    plan: SectionPlan
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Everything the template writes from and the model may reword, found before any model call."""

    topic: str
    works: tuple[Work, ...]
    allowed_texts: tuple[str, ...]  # topic, outline and facts: where a figure may come from besides the sources
    allowed: frozenset[str]
    warnings: tuple[str, ...]


def write(items: Sequence[Item], texts: dict[int, str], allowed: set[str], numbering: Numbering) -> tuple[Paragraph, Numbering]:
    """Assemble and check one paragraph, numbering its citations in ``numbering``."""
    text, context = assemble(items, texts)
    return finish_paragraph(text, context, allowed | allowed_figures(c.text for c in context), numbering), numbering


def prepare(service, outline: Outline, topic: str, facts: Sequence[Chunk] = (), progress: Progress | None = None) -> Prepared:
    """Plan every section the same way with or without a model (which requirements, which facts, in which order)."""
    base_allowed = (topic, outline.text(), *(c.text for c in facts))
    used: set[str] = set()  # list rows already written into the draft
    quoted: set[str] = set()
    works: list[Work] = []
    warnings: list[str] = []
    plans = plan(outline)
    w = Weights(service)
    assigned = assign_facts(plans, facts, w)
    for i, sec in enumerate(plans):
        if progress:
            progress(i, len(plans), f"{sec.label}{sec.title}")
        if not sec.write:
            works.append(Work(sec))
            continue
        mine = assigned.get(i, []) + list_rows(service, sec, used, w)
        used.update(c.id for c in mine)
        point_facts, rest = match_points(sec.points, mine, w)
        reqs = requirements(service, sec, REQUIREMENTS_K, w, topic)
        if not reqs:
            warnings.append(f"{sec.label}{sec.title}：知识库中没有找到相关的法规条款")
        works.append(Work(sec, tuple(template_items(sec, reqs, point_facts, rest, lead=i, quoted=quoted, w=w))))
    placed = {c.id for cs in assigned.values() for c in cs}
    unused = [c for c in facts if c.id not in placed]
    if unused:
        warnings.append(f"有 {len(unused)} 条事实材料没有对应的提纲标题，未写入：" + "；".join(c.text[:30] for c in unused[:5]))
    if progress:
        progress(len(plans), len(plans), "完成")
    return Prepared(topic, tuple(works), base_allowed, frozenset(allowed_figures(base_allowed)), tuple(warnings))


def passes(work: Work, texts: dict[int, str], allowed: set[str]) -> bool:
    """A section's rewrites may replace its template paragraph: every sentence still verifies, and every citation
    the template had survives (the same sources, as many markers, each quote taken from its chunk)."""
    paragraph, _ = write(work.items, texts, allowed, Numbering())
    template, _ = write(work.items, {}, allowed, Numbering())
    return (
        not paragraph.unsupported
        and bool(paragraph.citations)
        and {c.chunk.id for c in paragraph.citations} == {c.chunk.id for c in template.citations}
        and len(MARKER.findall(paragraph.text)) == len(MARKER.findall(template.text))
        and all(c.quote and c.quote in c.chunk.text for c in paragraph.citations)
    )


def compose(
    prepared: Prepared,
    texts: dict[int, dict[int, str]],
    pending: frozenset[int] = frozenset(),
    notes: dict[int, str] | None = None,
    warnings: Sequence[str] = (),
) -> Written:
    """The whole draft from each section's accepted rewrites (``texts[section][item]``; none: the template wording),
    numbered from the start, so a snapshot taken mid-way is as consistent as the final draft."""
    notes = notes or {}
    allowed = set(prepared.allowed)
    numbering = Numbering()
    sections: list[Section] = []
    n_sentences = n_llm = 0
    for i, work in enumerate(prepared.works):
        sec = work.plan
        if not sec.write:
            sections.append(Section(sec.level, sec.label, sec.title))
            continue
        paragraph, numbering = write(work.items, texts.get(i, {}), allowed, numbering)
        n_sentences += len(rewritable(work.items))
        n_llm += len(texts.get(i, {}))
        sections.append(Section(sec.level, sec.label, sec.title, (paragraph,), pending=i in pending, note=notes.get(i, "")))
    return Written(tuple(sections), numbering, (*prepared.warnings, *warnings), prepared.allowed_texts, n_sentences, n_llm)


def write_stream(
    service,
    outline: Outline,
    topic: str,
    facts: Sequence[Chunk] = (),
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
    at_once: bool = True,
) -> Iterator[Written]:
    """Yield the template draft with every section the model will reword marked pending, then a snapshot as each
    section is done, ending with the final draft (nothing pending). Without ``at_once``, or without a model (the
    template is then the final draft), only the final draft is yielded. The model rewords one section per call,
    one checked sentence at a time, in the style of past reports."""
    prepared = prepare(service, outline, topic, facts, progress)
    todo = [i for i, w in enumerate(prepared.works) if w.plan.write and rewritable(w.items)] if chat_model else []
    allowed = set(prepared.allowed)
    texts: dict[int, dict[int, str]] = {}
    notes: dict[int, str] = {}
    warnings: list[str] = []
    pending = set(todo)
    if at_once and todo:
        yield compose(prepared, texts, frozenset(pending), notes)
    for n, i in enumerate(todo):
        assert chat_model is not None
        sec = prepared.works[i].plan
        if progress:
            progress(n, len(todo), say("note_draft_progress_reword", heading=f"{sec.label}{sec.title}"))
        try:
            got = llm_rewrites(chat_model, service.settings.prompts_dir, topic, sec, prepared.works[i].items, style_examples(service, sec.query), allowed)
        except Exception as e:  # noqa: BLE001 - a model server that stops must not cost the user the whole draft
            # Down or timing out, it would make every later section wait as long: the template stays for all of them.
            reason = e.message if isinstance(e, AssistantError) else (str(e)[:80] or type(e).__name__)
            log.warning("draft: the model failed at %s (%s); the template stays for the rest", sec.title, reason)
            warnings.append(say("note_draft_model_failed", heading=f"{sec.label}{sec.title}", reason=reason))
            for j in todo[n:]:
                notes[j] = say("note_draft_section_model_down")  # short: the reason is in the warnings
            pending.clear()
            break
        if got and passes(prepared.works[i], got, allowed):
            texts[i] = got
        else:
            # The sentence checks are stricter than verify(); should the paragraph still fail, the template stands.
            notes[i] = say("note_draft_section_kept")
        pending.discard(i)
        if at_once and pending:
            yield compose(prepared, texts, frozenset(pending), notes, warnings)
    n_sentences = sum(len(rewritable(prepared.works[i].items)) for i in todo)
    n_llm = sum(len(t) for t in texts.values())
    if n_llm < n_sentences and not warnings:  # a failed model has said so already
        warnings.append(say("note_draft_reworded_share", done=n_llm, total=n_sentences))
    if progress and todo:
        progress(len(todo), len(todo), "完成")
    yield compose(prepared, texts, frozenset(), notes, warnings)

