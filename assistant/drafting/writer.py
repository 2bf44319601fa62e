"""Write the sections of an outline. Per section: requirements are retrieved from regulations only, facts
from the user's facts and responsibility lists only, and past reports only as style examples (never cited,
their figures never copied). Offline the text is assembled from cited requirements and facts; with a
ChatModel the model writes it from the same numbered sources. Every paragraph then goes through verify."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.answering.verify import MARKER, best_quote, overlap
from assistant.drafting.check import Numbering, allowed_figures, finish_paragraph
from assistant.drafting.model import Outline, Paragraph, Section
from assistant.drafting.outline import VIOLATION, bigram_share, fill, load_prompt, split_marker
from assistant.protocols import ChatModel
from assistant.text import query_tokens, sentences
from assistant.types import Chunk
from ingest.structure import int_to_cn

Progress = Callable[[int, int, str], None]

REQUIREMENTS_K = 2  # cited requirements per section in the template path
LLM_REQUIREMENTS_K = 4
MIN_REQUIREMENT = 0.2  # share of the section's words (with its parent's) a regulation article must contain
MIN_TITLE_MATCH = 0.3  # share of the 二级标题's own words
MIN_FACT = 0.3  # section_score a user fact needs to be placed in a section (or paired with a point)
MIN_LIST = 0.35  # a responsibility-list row is optional material, so it must fit better
_PROBLEM_WORDS = ("问题", "不足", "差距", "短板")
_PLAN_WORDS = ("下一步", "打算", "计划", "思路")
# A quotable requirement says what must be done; preambles and history ("一九八〇年，…") do not.
NORMATIVE = re.compile(r"应当|必须|要|坚持|加强|落实|严格|不得|推进|建立|健全|履行|负责|强化|深化|严肃|支持|督促|开展")
_LIST_CONTENT = ("内容", "任务", "职责", "措施", "事项", "要求")
_SUBJECTS = ("责任主体", "责任人", "责任单位", "责任部门", "岗位", "主体")
_LEADS = (
    "深入贯彻{doc}{art}关于“{q}”的要求{m}。",
    "严格落实{doc}{art}“{q}”的规定{m}。",
    "对照{doc}{art}“{q}”的要求{m}，认真抓好贯彻落实。",
)


@dataclass(frozen=True)
class SectionPlan:
    level: int
    label: str
    title: str
    parent: str  # the 一级标题 above a 二级标题
    points: tuple[str, ...]  # 一是 items the user put under it
    write: bool  # a 一级标题 with 二级 children only carries its heading

    @property
    def query(self) -> str:
        return f"{self.title} {self.parent}".strip()


def plan(outline: Outline) -> list[SectionPlan]:
    numbered = outline.numbered()
    plans: list[SectionPlan] = []
    parent = ""
    for i, (h, label) in enumerate(numbered):
        if h.level == 3:
            continue
        points = []
        has_kids = False
        for h2, _ in numbered[i + 1 :]:
            if h2.level <= h.level:
                break
            if h2.level == 3 and not has_kids:
                points.append(h2.title)
            if h2.level == 2:
                has_kids = True
        if h.level == 1:
            parent = h.title
        plans.append(SectionPlan(h.level, label, h.title, parent if h.level == 2 else "", tuple(points), bool(points) or not has_kids))
    return plans


# ---------------------------------------------------------------- retrieval per section


class Weights:
    """IDF-weighted word overlap over the knowledge base, so '一岗双责' counts for more than '落实'."""

    def __init__(self, service) -> None:
        reader = service.reader()
        self.idf = reader.idf
        self.default = reader.max_idf

    def share(self, query: str, text: str) -> float:
        toks = query_tokens(MARKER.sub("", query))
        if not toks:
            return 0.0
        have = set(query_tokens(text))
        total = sum(self.idf.get(t, self.default) for t in toks)
        return sum(self.idf.get(t, self.default) for t in toks if t in have) / total

    def mixed(self, query: str, text: str) -> float:
        """Weighted words, plain words and character pairs averaged: on a small knowledge base the weights alone
        overrate rare words, and pairs survive jieba cutting 主体责任清单 as 主体/责任清单."""
        return (overlap(query, text) + self.share(query, text) + bigram_share(query, text)) / 3


def requirements(service, sec: SectionPlan, k: int, w: Weights, topic: str = "") -> list[Chunk]:
    """Regulation articles that state duties for the section. Relevance is judged on the article text, not its
    context line (every article carries its rule's title there). Superseded texts and violation lists
    (有下列行为之一…给予处分) are left out: a report commits to duties in force."""
    query = sec.query
    if section_kind(sec) != "work" and topic:
        query = f"{sec.title} {split_marker(topic)[1]}"  # 存在的问题 / 下一步打算 say little by themselves
    hits = service.search(query, k=k * 5, kinds=("regulation",))
    usable = [h.chunk for h in hits if not h.chunk.superseded and not VIOLATION.search(h.chunk.text)]
    close = [c for c in usable if w.share(sec.title, c.text) >= MIN_TITLE_MATCH]
    if not close:  # nothing on the heading itself: fall back to the theme of its parent (or the topic)
        close = [c for c in usable if w.share(query, c.text) >= MIN_REQUIREMENT][:1]
    return close[:k]


def section_score(sec: SectionPlan, chunk: Chunk, w: Weights) -> float:
    """How well a fact fits a section: mostly its own heading or 一是 points, a little its parent's theme."""
    text = chunk.retrieval_text
    own = max([w.mixed(sec.title, text), *(w.mixed(p, text) for p in sec.points)])
    return 0.7 * own + 0.3 * w.mixed(sec.query, text)


def fact_kind(chunk: Chunk) -> str:
    """A fact under '## 存在的问题' in the facts file describes a problem; under '## 下一步打算', a plan."""
    where = " ".join(chunk.path)
    if any(w in where for w in _PROBLEM_WORDS):
        return "problem"
    if any(w in where for w in _PLAN_WORDS):
        return "plan"
    return "work"


def assign_facts(plans: Sequence[SectionPlan], facts: Sequence[Chunk], w: Weights, min_score: float = MIN_FACT) -> dict[int, list[Chunk]]:
    """Every user fact goes to the one section of its kind (achievement, problem, plan) it fits best; facts that
    fit nowhere stay out and are reported, rather than padding a section they do not belong to."""
    out: dict[int, list[Chunk]] = {}
    loose: list[tuple[float, int, Chunk]] = []
    for f in facts:
        kind = fact_kind(f)
        scored = [(section_score(sec, f, w), i) for i, sec in enumerate(plans) if sec.write and section_kind(sec) == kind]
        if not scored:
            continue
        score, best = max(scored, key=lambda x: (x[0], -x[1]))
        if score >= min_score:
            out.setdefault(best, []).append(f)
        elif score >= min_score / 2:
            loose.append((score, best, f))
    # A loosely fitting fact still beats a 【待补充】 in a section that would otherwise have no fact at all.
    for _score, best, f in sorted(loose, key=lambda x: -x[0]):
        if best not in out:
            out[best] = [f]
    return out


def list_rows(service, sec: SectionPlan, used: set[str], w: Weights, k: int = 2) -> list[Chunk]:
    """Rows of the unit's responsibility lists in the knowledge base that fit the section, each used once."""
    hits = service.search(sec.query, k=k + 3, kinds=("list",))
    scored = [(section_score(sec, h.chunk, w), n, h.chunk) for n, h in enumerate(hits) if h.chunk.id not in used]
    scored = sorted((x for x in scored if x[0] >= MIN_LIST), key=lambda x: (-x[0], x[1]))
    return [c for _, _, c in scored[:k]]


def match_points(points: Sequence[str], facts: Sequence[Chunk], w: Weights) -> tuple[list[tuple[str, Chunk | None]], list[Chunk]]:
    """Pair each 一是 point with its best remaining fact; the facts left over follow the points."""
    left = list(facts)
    pairs: list[tuple[str, Chunk | None]] = []
    for p in points:
        scored = [(w.mixed(p, c.retrieval_text), n) for n, c in enumerate(left)]
        best = max(scored, default=(0.0, -1))
        pairs.append((p, left.pop(best[1]) if best[0] >= MIN_FACT else None))
    return pairs, left


def style_examples(service, query: str, k: int = 2) -> list[Chunk]:
    return [h.chunk for h in service.search(query, k=k, kinds=("report",))]


# ---------------------------------------------------------------- offline template


def _trim(text: str) -> str:
    text = re.sub(r"^(?:（[一二三四五六七八九十]+）|第[一二三四五六七八九十百千]+条\s*|[一二三四五六七八九十]+是)", "", text.strip())
    return text.strip().rstrip("。；;，,：:")


def quote_for(sec: SectionPlan, chunk: Chunk, used: set[str], w: Weights, max_len: int = 50) -> str:
    """The requirement to quote: the article sentence closest to the heading and not quoted before in this
    draft (``used`` gets it), verbatim, cut at a clause end when long. Empty when none is left."""
    best, best_score = "", 0.0
    for sent in sentences(chunk.text):
        q = _trim(sent)
        if len(q) < 8 or q in used or sent.endswith(("：", ":")) or not NORMATIVE.search(q):
            continue
        score = 2 * w.share(sec.title, q) + w.share(sec.query, q)
        if score > best_score:
            best, best_score = q, score
    if not best:
        return ""
    used.add(best)
    if len(best) > max_len:
        cut = max(best.rfind("，", 0, max_len), best.rfind("；", 0, max_len))
        best = best[:cut] if cut > 10 else best[:max_len]
    return best


def fact_phrase(query: str, chunk: Chunk) -> str:
    """A fact as a clause: a list row becomes 责任主体 + 内容; a fact line is used as written."""
    extra = dict(chunk.extra)
    if extra:
        subject = next((v for h, v in extra.items() if any(s in h for s in _SUBJECTS)), "")
        content = [v.rstrip("。；;") for h, v in extra.items() if any(s in h for s in _LIST_CONTENT)]
        if content:
            return _trim(f"按照主体责任清单，{subject}{'，'.join(content[:2])}")
    text = chunk.text if len(chunk.text) <= 150 else best_quote(query, chunk, max_len=150)
    # '纪委书记：协助党委…' reads as a sentence once the label's colon goes.
    return _trim(re.sub(r"^([^：:，。；]{1,10})[：:]", r"\1", _trim(text)))


def _doc_ref(chunk: Chunk) -> tuple[str, str]:
    return f"《{chunk.title}》", chunk.article if chunk.article.startswith("第") else ""


def _enumerate(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0] + "。"
    return "".join(f"{int_to_cn(i)}是{item}。" for i, item in enumerate(items, 1))


def section_kind(sec: SectionPlan) -> str:
    """Problems and plans read differently from achievements: 'work' | 'problem' | 'plan'."""
    where = f"{sec.parent} {sec.title}"
    if any(w in where for w in _PROBLEM_WORDS):
        return "problem"
    if any(w in where for w in _PLAN_WORDS):
        return "plan"
    return "work"


_PLACEHOLDERS = {
    "work": "结合本单位实际，【待补充：围绕“{t}”的主要做法和成效，数字用**标注】",
    "problem": "【待补充：“{t}”方面的具体表现和原因分析】",
    "plan": "【待补充：围绕“{t}”的具体措施、责任分工和完成时限】",
}
_PLAN_LEADS = ("将认真贯彻{doc}{art}关于“{q}”的要求{m}。", "将严格落实{doc}{art}“{q}”的规定{m}。")
_PROBLEM_LEADS = ("对照{doc}{art}“{q}”的要求{m}，还存在一定差距。",)


def template_text(
    sec: SectionPlan,
    reqs: Sequence[Chunk],
    point_facts: Sequence[tuple[str, Chunk | None]],
    facts: Sequence[Chunk],
    lead: int,
    quoted: set[str],
    w: Weights,
) -> tuple[str, list[Chunk]]:
    """One paragraph: cited requirement sentences, then 一是…二是… from facts (or 【待补充】). Returns text with
    [n] markers and the context list they index; ``quoted`` collects the requirement quotes used so far."""
    context: list[Chunk] = []
    kind = section_kind(sec)
    leads = {"work": _LEADS, "plan": _PLAN_LEADS, "problem": _PROBLEM_LEADS}[kind]

    def mark(c: Chunk) -> str:
        if c not in context:
            context.append(c)
        return f"[{context.index(c) + 1}]"

    parts = []
    for c in reqs:
        q = quote_for(sec, c, quoted, w)
        if not q:
            continue
        doc, art = _doc_ref(c)
        parts.append(leads[(lead + len(parts)) % len(leads)].format(doc=doc, art=art, q=q, m=mark(c)))
    items = []
    for point, fact in point_facts:
        point = point.rstrip("。；，")
        if fact is None:
            items.append(f"{point}，【待补充：具体做法和成效】")
            continue
        phrase = fact_phrase(point, fact)
        # When the fact already says what the point says, the point would only repeat it.
        items.append(f"{phrase}{mark(fact)}" if w.share(point, phrase) >= 0.6 else f"{point}，{phrase}{mark(fact)}")
    items.extend(f"{fact_phrase(sec.query, c)}{mark(c)}" for c in facts)
    if not items:
        items = [_PLACEHOLDERS[kind].format(t=sec.title)]
    return "".join(parts) + _enumerate(items), context


# ---------------------------------------------------------------- LLM


def _source_line(n: int, c: Chunk) -> str:
    kind = {"regulation": "法规", "list": "责任清单", "facts": "事实材料"}.get(c.kind, "材料")
    return f"[{n}]（{kind}）{c.label}：{c.text[:300]}"


def llm_paragraphs(chat_model: ChatModel, prompts_dir: Path, topic: str, sec: SectionPlan, context: Sequence[Chunk], styles: Sequence[Chunk]) -> list[str]:
    points = "本节要点（按“一是、二是”展开）：" + "；".join(sec.points) + "\n" if sec.points else ""
    user = fill(
        load_prompt(prompts_dir, "draft_section.txt"),
        topic=topic,
        heading=f"{sec.label}{sec.title}" + (f"（属于“{sec.parent}”）" if sec.parent else ""),
        points=points,
        sources="\n".join(_source_line(n, c) for n, c in enumerate(context, 1)) or "（无）",
        style="\n".join(f"- {c.text[:200]}" for c in styles) or "（无）",
    )
    reply = chat_model.complete([("system", load_prompt(prompts_dir, "draft_system.txt")), ("user", user)])
    out = []
    for line in reply.split("\n"):
        line = line.strip().lstrip("#").strip()
        level, body, _ = split_marker(line)
        if not line or (level in (1, 2) and len(body) <= 30 and not re.search(r"\[\d+\]", line)):
            continue  # the model repeated a heading
        out.append(line)
    return out


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class Written:
    sections: tuple[Section, ...]
    numbering: Numbering
    warnings: tuple[str, ...]
    llm_sections: int
    allowed_texts: tuple[str, ...]


def write_sections(
    service,
    outline: Outline,
    topic: str,
    facts: Sequence[Chunk] = (),
    chat_model: ChatModel | None = None,
    progress: Progress | None = None,
) -> Written:
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
    # A model can judge fit itself, so it also sees the facts that fit its section only loosely.
    loose = assign_facts(plans, facts, w, MIN_FACT / 2) if chat_model is not None else assigned
    llm_done = 0
    for i, sec in enumerate(plans):
        if progress:
            progress(i, len(plans), f"{sec.label}{sec.title}")
        if not sec.write:
            sections.append(Section(sec.level, sec.label, sec.title))
            continue
        mine = assigned.get(i, []) + list_rows(service, sec, used, w)
        used.update(c.id for c in mine)
        point_facts, rest = match_points(sec.points, mine, w)
        paragraphs: list[Paragraph] = []
        if chat_model is not None:
            reqs = requirements(service, sec, LLM_REQUIREMENTS_K, w, topic)
            extra = [c for c in loose.get(i, []) if c not in mine]
            context = reqs + [c for _, c in point_facts if c is not None] + rest + extra
            ctx_allowed = allowed | allowed_figures(c.text for c in context)
            try:
                raw = llm_paragraphs(chat_model, prompts_dir, topic, sec, context, style_examples(service, sec.query))
                paragraphs = [finish_paragraph(r, context, ctx_allowed, numbering) for r in raw]
            except Exception as e:  # a model server that stops must not cost the user the whole draft
                warnings.append(f"{sec.label}{sec.title}：大模型调用失败（{str(e)[:80] or type(e).__name__}），已改用模板")
                paragraphs = []
            if paragraphs and any(p.citations for p in paragraphs):
                llm_done += 1
            elif paragraphs:
                warnings.append(f"{sec.label}{sec.title}：大模型的文字没有可核验的引用，已改用模板")
                paragraphs = []
        if not paragraphs:
            reqs = requirements(service, sec, REQUIREMENTS_K, w, topic)
            text, context = template_text(sec, reqs, point_facts, rest, lead=i, quoted=quoted, w=w)
            ctx_allowed = allowed | allowed_figures(c.text for c in context)
            paragraphs = [finish_paragraph(text, context, ctx_allowed, numbering)]
            if not reqs:
                warnings.append(f"{sec.label}{sec.title}：知识库中没有找到相关的法规条款")
        sections.append(Section(sec.level, sec.label, sec.title, tuple(paragraphs)))
    placed = {c.id for cs in assigned.values() for c in cs}
    unused = [c for c in facts if c.id not in placed]
    if unused:
        warnings.append(f"有 {len(unused)} 条事实材料没有对应的提纲标题，未写入：" + "；".join(c.text[:30] for c in unused[:5]))
    if progress:
        progress(len(plans), len(plans), "完成")
    return Written(tuple(sections), numbering, tuple(warnings), llm_done, tuple(base_allowed))
