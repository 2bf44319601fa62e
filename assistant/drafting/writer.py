"""Write the sections of an outline, in steps: plan (plan.py) -> retrieve (retrieve.py) -> template (template.py)
-> reword (reword.py, with a ChatModel) -> check (check.py).

Per section: requirements are retrieved from regulations only, facts from the user's facts and responsibility lists
only, and past reports only as style examples (never cited, their figures never copied). The text is assembled from
cited requirements and facts; with a ChatModel the model names each requirement (关于…的要求, in place of a quote) and
may reword each fact, and what it writes is used only when it keeps to its one source (no added figure, article, act
or clause). Every paragraph then goes through verify."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.core.protocols import ChatModel
from assistant.core.types import Chunk
from assistant.drafting.check import Numbering, allowed_figures, finish_paragraph
from assistant.drafting.model import Outline, Paragraph, Section
from assistant.drafting.plan import plan
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

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Written:
    sections: tuple[Section, ...]
    numbering: Numbering
    warnings: tuple[str, ...]
    allowed_texts: tuple[str, ...]
    sentences: int = 0  # cited sentences the model may reword (requirements and facts)
    llm_sentences: int = 0  # of those, the ones the model reworded and the checks accepted


def write(items: Sequence[Item], texts: dict[int, str], allowed: set[str], numbering: Numbering) -> tuple[Paragraph, Numbering]:
    """Assemble and check one paragraph, numbering its citations in ``numbering``."""
    text, context = assemble(items, texts)
    return finish_paragraph(text, context, allowed | allowed_figures(c.text for c in context), numbering), numbering


def write_sections(
    service,
    outline: Outline,
    topic: str,
    facts: Sequence[Chunk] = (),
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
) -> Written:
    """Plan every section the same way with or without a model (which requirements, which facts, in which order);
    the model only rewords those sentences, one checked sentence at a time, in the style of past reports."""
    prompts_dir = service.settings.prompts_dir
    numbering = Numbering()
    base_allowed = [topic, outline.text(), *(c.text for c in facts)]
    allowed = allowed_figures(base_allowed)
    used: set[str] = set()  # list rows already written into the draft
    quoted: set[str] = set()
    sections: list[Section] = []
    warnings: list[str] = []
    plans = plan(outline)
    w = Weights(service)
    assigned = assign_facts(plans, facts, w)
    n_sentences = n_llm = 0
    for i, sec in enumerate(plans):
        if progress:
            progress(i, len(plans), f"{sec.label}{sec.title}")
        if not sec.write:
            sections.append(Section(sec.level, sec.label, sec.title))
            continue
        mine = assigned.get(i, []) + list_rows(service, sec, used, w)
        used.update(c.id for c in mine)
        point_facts, rest = match_points(sec.points, mine, w)
        reqs = requirements(service, sec, REQUIREMENTS_K, w, topic)
        if not reqs:
            warnings.append(f"{sec.label}{sec.title}：知识库中没有找到相关的法规条款")
        items = template_items(sec, reqs, point_facts, rest, lead=i, quoted=quoted, w=w)
        texts: dict[int, str] = {}
        if chat_model is not None:
            try:
                texts = llm_rewrites(chat_model, prompts_dir, topic, sec, items, style_examples(service, sec.query), allowed)
            except Exception as e:  # a model server that stops must not cost the user the whole draft
                warnings.append(f"{sec.label}{sec.title}：大模型调用失败（{str(e)[:80] or type(e).__name__}），已改用模板")
        paragraph, trial = write(items, texts, allowed, numbering.fork())
        if texts and (paragraph.unsupported or not paragraph.citations):
            # The checks above are stricter than verify(); should a rewrite still fail it, the template stands,
            # and the failed trial leaves no number in the sources appendix.
            texts = {}
            paragraph, trial = write(items, texts, allowed, numbering.fork())
        numbering = trial
        n_sentences += len(rewritable(items))
        n_llm += len(texts)
        sections.append(Section(sec.level, sec.label, sec.title, (paragraph,)))
    placed = {c.id for cs in assigned.values() for c in cs}
    unused = [c for c in facts if c.id not in placed]
    if unused:
        warnings.append(f"有 {len(unused)} 条事实材料没有对应的提纲标题，未写入：" + "；".join(c.text[:30] for c in unused[:5]))
    if chat_model is not None and n_sentences and n_llm < n_sentences:
        warnings.append(f"大模型改写了 {n_llm}/{n_sentences} 句；其余句子未通过核验（数字、依据或句式），保留模板原文")
    if progress:
        progress(len(plans), len(plans), "完成")
    return Written(tuple(sections), numbering, tuple(warnings), tuple(base_allowed), n_sentences, n_llm)
