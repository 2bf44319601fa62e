"""Write the sections of an outline. Per section: requirements are retrieved from regulations only, facts
from the user's facts and responsibility lists only, and past reports only as style examples (never cited,
their figures never copied). The text is assembled from cited requirements and facts; with a ChatModel the
model names each requirement (关于…的要求, in place of a quote) and may reword each fact, and what it writes is
used only when it keeps to its one source (no added figure, article, act or clause). Every paragraph then goes
through verify."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.answering.llm import clean_markers, sanitize
from assistant.answering.verify import best_quote, overlap
from assistant.core.protocols import ChatModel
from assistant.core.types import MARKER, Chunk
from assistant.drafting.check import PLACEHOLDER, Numbering, allowed_figures, figures, finish_paragraph
from assistant.drafting.model import Outline, Paragraph, Section
from assistant.drafting.outline import VIOLATION, bigram_share, fill, load_prompt, split_marker
from assistant.text import query_tokens, sentences
from assistant.text.structure import int_to_cn

Progress = Callable[[int, int, str], None]

REQUIREMENTS_K = 2  # cited requirements per section
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
    subject = next((v for h, v in extra.items() if any(s in h for s in _SUBJECTS)), "")
    content = [v.rstrip("。；;") for h, v in extra.items() if any(s in h for s in _LIST_CONTENT)]
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


# ---------------------------------------------------------------- LLM: rewording, checked sentence by sentence

_LINE = re.compile(r"^[\[【［(（]?\s*(\d{1,2})\s*[\]】］)）]?\s*[.、．:：]?\s*(.*)$")
_CLAUSE = re.compile(r"(?<=[，；;,])")
CLAUSE_SUPPORT = 0.6  # share of a clause's words its source must contain, else the clause is dropped as added
SENTENCE_SUPPORT = 0.5  # the same for the whole rewritten sentence
MAX_REWRITE = 160  # characters; longer rewrites are padding or a loop
MAX_GIST = 40  # characters of a requirement's name (关于…的要求)
_GIST = re.compile(r"《[^》]+》[^关，。]{0,8}关于(.+)")
_GIST_END = re.compile(r"的(?:要求|规定|精神)|[，；;,。]")
_ARTICLE = re.compile(r"第[0-9一二三四五六七八九十百零〇]+条")
# Words a reworded fact may add: subjects of the unit, adverbs and connectives that change no fact.
FRAMING = frozenset(
    "本单位 我单位 单位 全年 年度 坚持 认真 切实 持续 深入 扎实 积极 严格 进一步 不断 及时 始终 全面 "
    "共 累计 其中 同时 通过 结合 围绕 各项 有关 相关 本 年".split()
)
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _role_label(item: Item) -> str:
    if item.role == "lead":
        return "法规要求"
    return "本单位责任清单" if item.chunk is not None and item.chunk.kind == "list" else "本单位事实"


def rewritable(items: Sequence[Item]) -> list[int]:
    """Items the model may reword: every requirement and fact (a 【待补充】 gap stays as it is)."""
    return [i for i, it in enumerate(items) if it.role != "gap"]


def rewrite_prompt(
    prompts_dir: Path, topic: str, sec: SectionPlan, items: Sequence[Item], styles: Sequence[Chunk]
) -> tuple[list[tuple[str, str]], list[int]]:
    """Messages asking for one reworded sentence per numbered item, and the item index behind each number."""
    numbered = rewritable(items)
    lines = []
    for n, i in enumerate(numbered, 1):
        it = items[i]
        where = f"，写在要点“{it.point}”下" if it.point and it.point not in it.source else ""
        # A space after the label: glued to it, the first character of the text merges into one token with '）'
        # and a small model drops it when it copies ('委书记' for '党委书记').
        lines.append(f"[{n}]（{_role_label(it)}{where}） {sanitize(it.source)}")
    user = fill(
        load_prompt(prompts_dir, "draft_rewrite.txt"),
        topic=topic,
        heading=f"{sec.label}{sec.title}",
        items="\n".join(lines),
        style="\n".join(f"- {sanitize(c.text[:160])}" for c in styles) or "（无）",
    )
    return [("system", load_prompt(prompts_dir, "draft_system.txt")), ("user", user)], numbered


def parse_rewrites(reply: str) -> dict[int, str]:
    """'[2] 党委会专题研究…。' lines -> {2: '党委会专题研究…。'}; the first line for a number wins."""
    out: dict[int, str] = {}
    for line in clean_markers(reply).split("\n"):
        m = _LINE.match(line.strip().lstrip("#*-· ").strip())
        if m and m.group(2).strip():
            out.setdefault(int(m.group(1)), m.group(2).strip())
    return out


def _looping(text: str, size: int = 8) -> bool:
    grams = [text[i : i + size] for i in range(len(text) - size + 1)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _clean(text: str) -> str:
    text = _BOLD.sub(r"\1", MARKER.sub("", text)).strip()
    text = re.sub(r"^[一二三四五六七八九十]+是", "", text).strip().rstrip("。；;，,：: ")
    return _LABEL.sub(r"\1", text)  # '纪委：每季度…' reads as a sentence once the label's colon goes


def _unsourced(text: str, item: Item, allowed: set[str]) -> bool:
    """A figure or an article number the item's source does not carry, a placeholder, or a loop."""
    assert item.chunk is not None
    return (
        "【" in text
        or bool(PLACEHOLDER.search(text))
        or _looping(text)
        or not set(figures(text)) <= allowed_figures([item.chunk.text, item.point]) | allowed
        or any(a != item.chunk.article for a in _ARTICLE.findall(text))
    )


def accept_gist(text: str, item: Item, allowed: set[str]) -> str:
    """A requirement the model named ('…《规定》第十二条关于制定年度任务安排的要求'): its 关于… part replaces the
    quote in the template's own sentence, so the frame (深入贯彻 / 对照…还存在差距 / 将…落实) stays and a quote
    cut off mid-sentence becomes a whole phrase. '' when there is no such part, or its source does not say it."""
    m = _GIST.search(_clean(text))
    if not m:
        return ""
    # A whole article listed (closed by 的要求 or not): the first clause names it; '…失职失责的，…' loses its 的.
    gist = _GIST_END.split(m.group(1))[0].strip().removesuffix("的")
    if not 4 <= len(gist) <= MAX_GIST or _unsourced(gist, item, allowed) or overlap(gist, item.source) < CLAUSE_SUPPORT:
        return ""
    quoted = f"“{item.quote}”"
    frame = item.text.replace(f"关于{quoted}", quoted)
    return frame.replace(quoted, f"关于{gist}") if item.quote and gist != item.quote else ""


def accept_rewrite(text: str, item: Item, allowed: set[str]) -> str:
    """The model's sentence for a fact once clauses its source does not support are dropped, or '' when it must
    not be used: a figure or article its source lacks, a loop, a placeholder, too little of the source, or a word
    that adds an act or object. What survives still goes through the shared verifier like any sentence."""
    assert item.chunk is not None
    if item.role == "lead":
        return accept_gist(text, item, allowed)
    text = _clean(text)
    if len(text) < 6 or len(text) > MAX_REWRITE or _unsourced(text, item, allowed):
        return ""
    # Judged against the one fact the model was given, so a clause copied from the style examples does not pass.
    source = f"{item.point} {item.source}"
    text = "".join(c for c in _CLAUSE.split(text) if len(query_tokens(c)) < 2 or overlap(c, source) >= CLAUSE_SUPPORT)
    text = text.strip().rstrip("，；;,：: ")
    if len(text) < 6 or overlap(text, source) < SENTENCE_SUPPORT:
        return ""
    # A fact may be reordered and trimmed, but every word it adds must be framing, never a new act or object:
    # '党委听取纪委工作汇报' must not become '召开纪委工作汇报'.
    have = set(query_tokens(source))
    if any(t not in have and t not in FRAMING for t in query_tokens(text)) or text.endswith(("要求", "规定")):
        return ""
    subject, content = list_row(item.chunk)
    if content:
        text = text.replace(f"{subject}：", subject, 1)
        if "清单" not in text:
            text = LIST_LEAD + text  # a list row says what is to be done, not that it was done
    return text


def llm_rewrites(
    chat_model: ChatModel, prompts_dir: Path, topic: str, sec: SectionPlan, items: Sequence[Item], styles: Sequence[Chunk], allowed: set[str]
) -> dict[int, str]:
    """Accepted rewrites by item index; an item the model skipped or got wrong keeps the template wording."""
    if not rewritable(items):
        return {}
    messages, numbered = rewrite_prompt(prompts_dir, topic, sec, items, styles)
    replies = parse_rewrites(chat_model.complete(messages))
    out = {}
    for n, i in enumerate(numbered, 1):
        text = accept_rewrite(replies[n], items[i], allowed) if n in replies else ""
        if text and text != items[i].text:  # a copy of the template wording is no rewording
            out[i] = text
    return out


# ---------------------------------------------------------------- sections


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
