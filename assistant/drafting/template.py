"""Drafting step 3, template: the offline paragraph of a section, item by item (requirement, list row, fact), with [n] slots."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering.verify import best_quote
from assistant.core.types import Chunk
from assistant.drafting.plan import SectionPlan, section_kind
from assistant.drafting.retrieve import Weights
from assistant.text import sentences
from assistant.text.structure import CN_NUM, CN_SMALL, int_to_cn

# A quotable requirement says what must be done; preambles and history ("一九八〇年，…") do not.
NORMATIVE = re.compile(r"应当|必须|要|坚持|加强|落实|严格|不得|推进|建立|健全|履行|负责|强化|深化|严肃|支持|督促|开展")
LIST_CONTENT = ("内容", "任务", "职责", "措施", "事项", "要求")
SUBJECTS = ("责任主体", "责任人", "责任单位", "责任部门", "岗位", "主体")


_LEADS = (
    "深入贯彻{doc}{art}关于“{q}”的要求{m}。",
    "严格落实{doc}{art}“{q}”的规定{m}。",
    "对照{doc}{art}“{q}”的要求{m}，认真抓好贯彻落实。",
)


def _trim(text: str) -> str:
    text = re.sub(
        rf"^(?:（[{CN_SMALL}]+）|第[{CN_NUM}]+条\s*|[{CN_SMALL}]+是)", "", text.strip()
    )
    return text.strip().rstrip("。；;，,：:")


def quote_for(sec: SectionPlan, chunk: Chunk, used: set[str], w: Weights, max_len: int = 50) -> tuple[str, str]:
    """(quote, its whole sentence): the article sentence closest to the heading and not quoted before in this
    draft (``used`` gets it), verbatim, the quote cut at a clause end when long. Empty when none is left."""
    best, best_score = "", 0.0
    for sent in sentences(chunk.text):
        q = _trim(sent)
        if len(q) < 8 or q in used or sent.endswith(("：", ":")) or not NORMATIVE.search(q):
            continue
        score = 2 * w.share(sec.title, q) + w.share(sec.query, q)
        if score > best_score:
            best, best_score = q, score
    if not best:
        return "", ""
    used.add(best)
    whole = best
    if len(best) > max_len:
        cut = max(best.rfind("，", 0, max_len), best.rfind("；", 0, max_len))
        best = best[:cut] if cut > 10 else best[:max_len]
    return best, whole


LIST_LEAD = "按照主体责任清单，"

_LABEL = re.compile(r"^([^：:，。；]{1,10})[：:]")  # '纪委书记：协助党委…'


def list_row(chunk: Chunk) -> tuple[str, str]:
    """(责任主体, 内容) of a responsibility-list row; ('', '') for anything else."""
    extra = dict(chunk.extra)
    subject = next((v for h, v in extra.items() if any(s in h for s in SUBJECTS)), "")
    content = [v.rstrip("。；;") for h, v in extra.items() if any(s in h for s in LIST_CONTENT)]
    return (subject, "，".join(content[:2])) if content else ("", "")


def fact_phrase(query: str, chunk: Chunk) -> str:
    """A fact as a clause: a list row becomes 责任主体 + 内容; a fact line is used as written."""
    subject, content = list_row(chunk)
    if content:
        return _trim(f"{LIST_LEAD}{subject}{content}")
    text = chunk.text if len(chunk.text) <= 150 else best_quote(query, chunk, max_len=150)
    # A label's colon goes, so the fact reads as a sentence.
    return _trim(_LABEL.sub(r"\1", _trim(text)))


def _doc_ref(chunk: Chunk) -> tuple[str, str]:
    return f"《{chunk.title}》", chunk.article if chunk.article.startswith("第") else ""


def _enumerate(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0] + "。"
    return "".join(f"{int_to_cn(i)}是{item}。" for i, item in enumerate(items, 1))


_PLACEHOLDERS = {
    "work": "结合本单位实际，【待补充：围绕“{t}”的主要做法和成效，数字用**标注】",
    "problem": "【待补充：“{t}”方面的具体表现和原因分析】",
    "plan": "【待补充：围绕“{t}”的具体措施、责任分工和完成时限】",
}

_PLAN_LEADS = ("将认真贯彻{doc}{art}关于“{q}”的要求{m}。", "将严格落实{doc}{art}“{q}”的规定{m}。")

_PROBLEM_LEADS = ("对照{doc}{art}“{q}”的要求{m}，还存在一定差距。",)


@dataclass(frozen=True)
class Item:
    """One sentence of a section paragraph. ``lead``: a cited requirement that opens the paragraph; ``fact``: a
    一是 item from a user fact or list row; ``gap``: a 【待补充】 placeholder. ``text`` is the template wording
    up to the [n] marker, ``tail`` what the template says after it. The LLM may rename a lead's ``quote`` and
    reword a fact's ``text``; a gap stays."""

    role: str
    text: str
    chunk: Chunk | None = None
    tail: str = ""
    point: str = ""  # the 一是 point of the user's outline a fact answers
    source: str = ""  # what the model is shown: the quoted requirement sentence or the fact as written
    quote: str = ""  # a requirement's quote in ``text``, which the model's name for the requirement may replace


def template_items(
    sec: SectionPlan,
    reqs: Sequence[Chunk],
    point_facts: Sequence[tuple[str, Chunk | None]],
    facts: Sequence[Chunk],
    lead: int,
    quoted: set[str],
    w: Weights,
) -> list[Item]:
    """The section's sentences in the template wording: cited requirement sentences, then 一是…二是… from
    facts (or 【待补充】). ``quoted`` collects the requirement quotes used so far in the draft."""
    kind = section_kind(sec)
    leads = {"work": _LEADS, "plan": _PLAN_LEADS, "problem": _PROBLEM_LEADS}[kind]
    items: list[Item] = []
    for c in reqs:
        q, whole = quote_for(sec, c, quoted, w)
        if not q:
            continue
        doc, art = _doc_ref(c)
        text, _, tail = leads[(lead + len(items)) % len(leads)].format(doc=doc, art=art, q=q, m=_SLOT).partition(_SLOT)
        items.append(Item("lead", text, c, tail.rstrip("。"), source=f"{doc}{art}：{whole}", quote=q))
    for point, fact in point_facts:
        point = point.rstrip("。；，")
        if fact is None:
            items.append(Item("gap", f"{point}，【待补充：具体做法和成效】"))
            continue
        phrase = fact_phrase(point, fact)
        # When the fact already says what the point says, the point would only repeat it.
        text = phrase if w.share(point, phrase) >= 0.6 else f"{point}，{phrase}"
        items.append(Item("fact", text, fact, point=point, source=_fact_source(fact, phrase)))
    for c in facts:
        phrase = fact_phrase(sec.query, c)
        items.append(Item("fact", phrase, c, source=_fact_source(c, phrase)))
    if not any(i.role != "lead" for i in items):
        items.append(Item("gap", _PLACEHOLDERS[kind].format(t=sec.title)))
    return items


_SLOT = "\x00"  # where a lead template puts the [n] marker


def _fact_source(chunk: Chunk, phrase: str) -> str:
    """What the model rewords: a list row as '责任主体：内容' (the writer adds the 按照清单 framing back)."""
    subject, content = list_row(chunk)
    return f"{subject}：{content}" if content else phrase


def assemble(items: Sequence[Item], texts: dict[int, str] | None = None) -> tuple[str, list[Chunk]]:
    """One paragraph with [n] markers and the context list they index. ``texts[i]`` replaces item i's wording
    (the LLM's accepted rewording)."""
    texts = texts or {}
    context: list[Chunk] = []

    def body(i: int, item: Item) -> str:
        mark = ""
        if item.chunk is not None:
            if item.chunk not in context:
                context.append(item.chunk)
            mark = f"[{context.index(item.chunk) + 1}]"
        if i in texts:  # a reworded requirement keeps the template's frame; a reworded fact is a whole sentence
            return texts[i] + mark + (item.tail if item.role == "lead" else "")
        return item.text + mark + item.tail

    leads = [body(i, it) + "。" for i, it in enumerate(items) if it.role == "lead"]
    rest = [body(i, it) for i, it in enumerate(items) if it.role != "lead"]
    return "".join(leads) + (_enumerate(rest) if rest else ""), context
