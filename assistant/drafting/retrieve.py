"""Drafting step 2, retrieve: per section, the regulation requirements, the user facts and the responsibility-list rows that fit it."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.core.protocols import Library
from assistant.core.types import MARKER, Chunk
from assistant.drafting.outline import VIOLATION, split_marker
from assistant.drafting.plan import PLAN_WORDS, PROBLEM_WORDS, SectionPlan, section_kind
from assistant.text import query_tokens
from assistant.text.similarity import bigram_share, overlap

REQUIREMENTS_K = 2  # cited requirements per section

MIN_REQUIREMENT = 0.2  # share of the section's words (with its parent's) a regulation article must contain

MIN_TITLE_MATCH = 0.3  # share of the 二级标题's own words

MIN_FACT = 0.3  # section_score a user fact needs to be placed in a section (or paired with a point)

MIN_LIST = 0.35  # a responsibility-list row is optional material, so it must fit better


class Weights:
    """IDF-weighted word overlap over the knowledge base, so '一岗双责' counts for more than '落实'."""

    def __init__(self, service: Library) -> None:
        self.idf, self.default = service.token_weights()

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


def requirements(service: Library, sec: SectionPlan, k: int, w: Weights, topic: str = "") -> list[Chunk]:
    """Regulation articles that state duties for the section. Relevance is judged on the article text, not its
    context line (every article carries its rule's title there). Superseded texts and violation lists
    (有下列行为之一…给予处分) are left out: a report commits to duties in force."""
    query = sec.query
    if section_kind(sec) != "work" and topic:
        query = f"{sec.title} {split_marker(topic)[1]}"  # 存在的问题 / 下一步打算 say little by themselves
    hits = service.search(query, k=k * 5, kinds=("regulation",))
    usable = [h.chunk for h in hits if not h.chunk.superseded and not h.chunk.repealed and not VIOLATION.search(h.chunk.text)]
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
    if any(w in where for w in PROBLEM_WORDS):
        return "problem"
    if any(w in where for w in PLAN_WORDS):
        return "plan"
    return "work"


def assign_facts(
    plans: Sequence[SectionPlan], facts: Sequence[Chunk], w: Weights, min_score: float = MIN_FACT
) -> dict[int, list[Chunk]]:
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


def list_rows(service: Library, sec: SectionPlan, used: set[str], w: Weights, k: int = 2) -> list[Chunk]:
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


def style_examples(service: Library, query: str, k: int = 2) -> list[Chunk]:
    return [h.chunk for h in service.search(query, k=k, kinds=("report",))]
