"""Drafting step 4, reword (optional): the LLM restates template sentences; each is checked clause by clause against its source."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from assistant.answering.injection import sanitize
from assistant.answering.llm import clean_markers
from assistant.core.protocols import ChatModel
from assistant.core.types import MARKER, Chunk
from assistant.drafting.check import PLACEHOLDER, allowed_figures, figures
from assistant.drafting.outline import fill
from assistant.drafting.plan import SectionPlan
from assistant.drafting.template import _LABEL, LIST_LEAD, Item, list_row
from assistant.llm.prompts import load_prompt
from assistant.text import query_tokens
from assistant.text.similarity import overlap
from assistant.text.structure import CN_NUM, CN_SMALL

_LINE = re.compile(r"^[\[【［(（]?\s*(\d{1,2})\s*[\]】］)）]?\s*[.、．:：]?\s*(.*)$")

_CLAUSE = re.compile(r"(?<=[，；;,])")

CLAUSE_SUPPORT = 0.6  # share of a clause's words its source must contain, else the clause is dropped as added

SENTENCE_SUPPORT = 0.5  # the same for the whole rewritten sentence

MAX_REWRITE = 160  # characters; longer rewrites are padding or a loop

MAX_GIST = 40  # characters of a requirement's name (关于…的要求)

_GIST = re.compile(r"《[^》]+》[^关，。]{0,8}关于(.+)")

_GIST_END = re.compile(r"的(?:要求|规定|精神)|[，；;,。]")

_ARTICLE = re.compile(rf"第[{CN_NUM}0-9]+条")

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
        load_prompt(prompts_dir, "draft_rewrite"),
        topic=topic,
        heading=f"{sec.label}{sec.title}",
        items="\n".join(lines),
        style="\n".join(f"- {sanitize(c.text[:160])}" for c in styles) or "（无）",
    )
    return [("system", load_prompt(prompts_dir, "draft_system")), ("user", user)], numbered


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
    text = re.sub(rf"^[{CN_SMALL}]+是", "", text).strip().rstrip("。；;，,：: ")
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
    chat_model: ChatModel,
    prompts_dir: Path,
    topic: str,
    sec: SectionPlan,
    items: Sequence[Item],
    styles: Sequence[Chunk],
    allowed: set[str],
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
