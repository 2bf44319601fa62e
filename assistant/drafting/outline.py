"""Outlines: learn the 一、/（一）/一是 heading style from past reports in the index, propose an outline
for a topic (offline from past reports, the default skeleton and regulation items; better with an LLM),
and read back the outline text a user edited."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.protocols import ChatModel, Library
from assistant.core.types import Chunk
from assistant.drafting.model import Heading, Outline
from assistant.llm.prompts import load_prompt
from assistant.text import normalize, sentences
from assistant.text.similarity import bigram_share, overlap
from assistant.text.structure import CN_NUM, CN_SMALL, H1, H2, cn_to_int

# A heading line: markdown #'s, then one of the report markers. Level 3 also takes 1. / 1、 / （1） / - bullets.
_MD = re.compile(r"^(#{1,6})\s*(.*)$")
_L3 = re.compile(rf"^(?:([{CN_NUM}]+)是|(\d+)[\.、．]|[（(](\d+)[）)]|[-*•·]\s*)")
_REPORT_WORDS = ("报告", "总结", "汇报", "情况", "讲话", "述责述廉", "方案", "计划", "要点", "意见")
DEFAULT_SOURCE = "默认提纲"
SECTION_MATCH = 0.35  # heading_similarity above which a past 一级标题's children are reused for a section topic


@dataclass(frozen=True)
class ReportOutline:
    """The heading skeleton of one past report: (一级标题, (二级标题, ...)) in order."""

    title: str
    source: str
    items: tuple[tuple[str, tuple[str, ...]], ...]
    points: int = 0  # how many 一是/二是 enumerations its paragraphs use


@dataclass(frozen=True)
class Style:
    reports: tuple[ReportOutline, ...]
    l2_per_l1: int = 3
    l2_period: bool = False  # past 二级标题 end with 。 (run-in headings)
    uses_points: bool = True  # paragraphs enumerate with 一是…二是…

    @property
    def learned(self) -> bool:
        return bool(self.reports)


def split_marker(line: str) -> tuple[int, str, int]:
    """'二、强化责任落实' -> (1, '强化责任落实', 2); '（一）压实…' -> (2, …, 1); '一是…' -> (3, …, 1); else (0, line, 0)."""
    line = line.strip()
    for level, rx in ((1, H1), (2, H2)):
        m = rx.match(line)
        if m:
            try:
                return level, line[m.end() :].strip(), cn_to_int(m.group(1))
            except ValueError:
                break
    m = _L3.match(line)
    if m and line[m.end() :].strip():
        num = m.group(1) or m.group(2) or m.group(3)
        n = (int(num) if num.isdigit() else cn_to_int(num)) if num else 0
        return 3, line[m.end() :].strip(), n
    return 0, line, 0


def _clean_title(title: str) -> str:
    return title.strip().rstrip("：:").strip()


def parse_outline(text: str, topic: str = "") -> Outline:
    """Read an outline a user wrote or edited. '# 标题' is the document title; '##'/'###'/'####' or the
    markers 一、/（一）/一是 give levels; an indented or bulleted line is a 一是 point; other lines are 二级."""
    title = ""
    headings: list[Heading] = []
    start = 0
    for raw in normalize(text).split("\n") if text else []:
        if not raw.strip():
            continue
        indented = raw.startswith(("  ", "\t", "　"))
        line = raw.strip()
        md = _MD.match(line)
        md_level = 0
        if md:
            if len(md.group(1)) == 1:
                title = _clean_title(md.group(2))
                continue
            md_level = min(len(md.group(1)) - 1, 3)
            line = md.group(2).strip()
        if line.startswith(("标题：", "标题:")):
            title = _clean_title(line[3:])
            continue
        level, body, num = split_marker(line)
        if level == 3:  # '- 二是…': a bullet in front of a number
            inner = split_marker(body)
            body = inner[1] if inner[0] == 3 else body
        if level == 0:
            level = md_level or (3 if indented else 2)
        elif md_level and level != md_level:
            level = md_level
        body = _clean_title(body)
        if not body:
            continue
        if level == 1 and not start:
            start = num or 1
        headings.append(Heading(level, body))
    if not headings:
        raise error("outline_no_headings")
    if not title and topic and not is_section_topic(topic):
        title = normalize(topic).strip()
    return Outline(title=title, headings=tuple(headings), start=start or 1, source="用户提纲")


def is_section_topic(topic: str) -> bool:
    """'二、强化责任落实…' or a short theme is one section; '…情况报告' is a whole document."""
    level, body, _ = split_marker(normalize(topic))
    if level == 1:
        return True
    return not any(w in body for w in _REPORT_WORDS)


# ---------------------------------------------------------------- learning from past reports


def _heading_of(text: str, max_len: int = 32) -> tuple[int, str]:
    """A run-in heading at the start of a paragraph: '（一）强化理论武装。一是…' -> (2, '强化理论武装')."""
    level, body, _ = split_marker(text)
    if level not in (1, 2):
        return 0, ""
    first = re.split(r"[。：:]", body, maxsplit=1)[0]
    if 2 <= len(first) <= max_len and len(first) < len(body):
        return level, first.strip()
    return 0, ""


def report_outlines(chunks: Sequence[Chunk]) -> list[ReportOutline]:
    """Rebuild each report's heading skeleton from its chunks (heading path + run-in headings)."""
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        if c.kind == "report":
            by_doc.setdefault(c.doc_id, []).append(c)
    out = []
    for doc_chunks in by_doc.values():
        doc_chunks.sort(key=lambda c: c.start)
        items: list[tuple[str, list[str]]] = []
        points = 0
        for c in doc_chunks:
            found: list[tuple[int, str]] = []
            for part in c.path:
                level, body, _ = split_marker(part)
                if level in (1, 2):
                    found.append((level, _clean_title(body)))
            level, body = _heading_of(c.text)
            if level:
                found.append((level, body))
            for level, body in found:
                if level == 1 and (not items or items[-1][0] != body):
                    items.append((body, []))
                elif level == 2:
                    if not items:
                        items.append(("", []))
                    if body not in items[-1][1]:
                        items[-1][1].append(body)
            points += len(re.findall(rf"(?:^|[。；])\s*[{CN_SMALL}]是", c.text))
        items = [(t, kids) for t, kids in items if t or kids]
        if items:
            first = doc_chunks[0]
            out.append(ReportOutline(first.title, first.source, tuple((t, tuple(k)) for t, k in items), points))
    return out


def learn_style(chunks: Sequence[Chunk]) -> Style:
    reports = tuple(report_outlines(chunks))
    l2 = [k for r in reports for _, kids in r.items for k in kids]
    per = [len(kids) for r in reports for _, kids in r.items if kids]
    ended = sum(1 for c in chunks if c.kind == "report" and re.match(r"^（[一二三四五六七八九十]+）[^。]{2,32}。", c.text))
    return Style(
        reports=reports,
        l2_per_l1=round(sum(per) / len(per)) if per else 3,
        l2_period=bool(l2) and ended >= len(l2) / 2,
        uses_points=not reports or any(r.points for r in reports),
    )


def default_outline(prompts_dir: Path) -> ReportOutline:
    """The built-in skeleton, used when the knowledge base holds no past report to learn from."""
    path = prompts_dir / "draft_outline_default.txt"
    if not path.is_file():
        raise error("prompt_missing", path=path)
    o = parse_outline(path.read_text("utf-8"))
    items: list[tuple[str, list[str]]] = []
    for h in o.headings:
        if h.level == 1:
            items.append((h.title, []))
        elif h.level == 2 and items:
            items[-1][1].append(h.title)
    return ReportOutline(o.title, DEFAULT_SOURCE, tuple((t, tuple(k)) for t, k in items))


def heading_similarity(a: str, b: str) -> float:
    """Symmetric similarity of two headings (markers stripped) on words and character pairs."""
    a, b = (_GENERIC.sub(" ", split_marker(x)[1]) for x in (a, b))
    return (overlap(a, b) + overlap(b, a) + bigram_share(a, b) + bigram_share(b, a)) / 4


# Verbs and nouns every heading uses: '加强作风纪律建设' is not like '加强党的政治建设'.
_GENERIC = re.compile("加强|建设|坚持|推进|持续|深化|强化|落实|全面|工作|进一步|切实|不断|扎实|着力|深入")
_similar = heading_similarity
# Items of "有下列行为之一" lists describe violations, not duties: '（二）党的建设缺失，…的；'.
VIOLATION = re.compile(r"下列(?:行为|情形|情况)之一|给予[^，。；]*处分")


def report_chunks(service: Library) -> list[Chunk]:
    return service.chunks_of("report")


def requirement_headings(service: Library, title: str, n: int) -> list[str]:
    """Short headings taken from the duty items of matching regulations: '（六）持之以恒抓好党的作风建设，…' ->
    '持之以恒抓好党的作风建设'. Violation lists, superseded and 已废止 texts are skipped."""
    scored: list[tuple[float, int, str]] = []
    for rank, hit in enumerate(service.search(title, k=8, kinds=("regulation",))):
        if hit.chunk.superseded or hit.chunk.repealed or VIOLATION.search(hit.chunk.text):
            continue
        for sent in sentences(hit.chunk.text):
            level, body, _ = split_marker(sent)
            if level not in (2, 3) or body.rstrip("；。").endswith("的"):
                continue
            clause = re.split(r"[，；。：]", body, maxsplit=1)[0].strip()
            if 6 <= len(clause) <= 24:
                scored.append((_similar(title, body), rank, clause))
    scored.sort(key=lambda x: (-x[0], x[1]))
    out: list[str] = []
    for score, _, clause in scored:
        if score > 0 and clause not in out and all(_similar(clause, o) < 0.6 for o in out):
            out.append(clause)
        if len(out) >= n:
            break
    return out


def template_outline(service: Library, topic: str, style: Style, prompts_dir: Path) -> Outline:
    """Offline proposal. A section topic reuses the children of the most similar past 一级标题; a whole
    report reuses the skeleton of the most similar past report; the default skeleton fills in otherwise."""
    topic = normalize(topic).strip()
    default = default_outline(prompts_dir)
    if is_section_topic(topic):
        level, title, num = split_marker(topic)
        title = _clean_title(title) if level == 1 else topic
        best: tuple[float, tuple[str, ...], str] = (0.0, (), "")
        for report in (*style.reports, default):
            for l1, items in report.items:
                score = _similar(title, l1) + (0.01 if report.source != DEFAULT_SOURCE else 0.0)
                if items and score > best[0]:
                    best = (score, items, report.title if report.source != DEFAULT_SOURCE else DEFAULT_SOURCE)
        if best[0] >= SECTION_MATCH:
            kids, source = list(best[1]), f"参照：{best[2]}"
        else:
            kids, source = requirement_headings(service, title, max(style.l2_per_l1, 2)), "参照：相关法规条款"
        headings = [Heading(1, title)] + [Heading(2, k) for k in kids]
        return Outline(title="", headings=tuple(headings), start=num if level == 1 else 1, source=source)
    chosen, best_score = default, 0.0
    for report in style.reports:
        score = _similar(topic, report.title)
        if score > best_score:
            chosen, best_score = report, score
    if best_score < 0.3:
        chosen = default
    headings = []
    for l1, subs in chosen.items:
        if l1:
            headings.append(Heading(1, l1))
        headings.extend(Heading(2, k) for k in subs)
    source = DEFAULT_SOURCE if chosen is default else f"参照：{chosen.title}"
    return Outline(title=topic, headings=tuple(headings), source=source)


def fill(template: str, **values: str) -> str:
    """str.format without tripping over braces in Chinese source text."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _examples_text(style: Style, default: ReportOutline, limit: int = 2) -> str:
    blocks = []
    for report in (*style.reports[:limit], default) if style.reports else (default,):
        lines = [f"《{report.title}》"]
        for n, (l1, kids) in enumerate(report.items, 1):
            lines.append(f"{n}. {l1}")
            lines.extend(f"    ({m}) {k}" for m, k in enumerate(kids, 1))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def llm_outline(service: Library, topic: str, style: Style, prompts_dir: Path, chat_model: ChatModel, fallback: Outline) -> Outline:
    """Ask the model for an outline in the learned style; anything unparseable falls back to the template."""
    section = is_section_topic(topic)
    default = default_outline(prompts_dir)
    reqs = []
    for hit in service.search(topic, k=6, kinds=("regulation",)):
        reqs.append(f"- {hit.chunk.label}：{hit.chunk.text[:120]}")
    hint = (
        "只写这一个一级标题（保持原文）及其下的3至5个二级标题（（一）（二）……），不要写其他一级标题。"
        if section
        else "写完整报告的提纲：4至7个一级标题（一、二、……），每个一级标题下2至4个二级标题（（一）（二）……）。"
    )
    user = fill(
        load_prompt(prompts_dir, "draft_outline"),
        topic=topic,
        scope=hint,
        examples=_examples_text(style, default),
        requirements="\n".join(reqs) or "（无）",
    )
    messages = [("system", load_prompt(prompts_dir, "draft_system")), ("user", user)]
    try:
        reply = chat_model.complete(messages)
    except Exception as e:  # a model server that is down must not cost the user the offline outline
        return dataclasses.replace(fallback, source=f"{fallback.source}（大模型不可用：{str(e)[:80] or type(e).__name__}）")
    try:
        parsed = parse_outline(reply)
    except AssistantError:
        return dataclasses.replace(fallback, source=f"{fallback.source}（大模型提纲无法解析，已用模板）")
    headings = [h for h in parsed.headings if h.level in (1, 2)]
    rejected = dataclasses.replace(fallback, source=f"{fallback.source}（大模型提纲未通过检查，已用模板）")
    if section:
        level, title, num = split_marker(normalize(topic))
        title = _clean_title(title) if level == 1 else topic
        kids = sound_children(title, [h.title for h in headings if h.level == 2], style, default)
        if len(kids) < 2:
            return rejected
        headings = [Heading(1, title)] + [Heading(2, k) for k in kids]
        return Outline("", tuple(headings), start=num if level == 1 else 1, source="大模型（参照往年报告文风）")
    l1 = [h.title for h in headings if h.level == 1]
    if len(l1) < 3 or len(set(l1)) < len(l1):
        return rejected
    return Outline(topic, tuple(headings), source="大模型（参照往年报告文风）")


SAME_HEADING = 0.6  # heading_similarity at which two headings say the same thing


def sound_children(title: str, kids: Sequence[str], style: Style, default: ReportOutline) -> list[str]:
    """The model's 二级标题 for a section, less those that repeat the section's own title, another past 一级标题
    (a small model copies the examples, the default skeleton among them, one level down) or an earlier child."""
    others = [l1 for r in (*style.reports, default) for l1, _ in r.items if l1 and _similar(l1, title) < SAME_HEADING]
    out: list[str] = []
    for k in kids:
        if _similar(k, title) >= SAME_HEADING or any(_similar(k, o) >= SAME_HEADING for o in [*others, *out]):
            continue
        out.append(k)
    return out


def propose_outline(service: Library, topic: str, chat_model: ChatModel | None = None) -> Outline:
    """Outline for a topic in the style of the unit's past reports (kind == report in the index); the model
    proposes one only when settings.draft_llm_outline is on (it measured worse than the learned outline)."""
    topic = normalize(topic or "").strip()
    if not topic:
        raise error("topic_empty")
    prompts_dir = service.settings.prompts_dir
    style = learn_style(report_chunks(service))
    outline = template_outline(service, topic, style, prompts_dir)
    if chat_model is None or not service.settings.draft_llm_outline:
        return outline
    return llm_outline(service, topic, style, prompts_dir, chat_model, outline)
