"""Drafting step 1, plan: the outline as sections to write (level, label, title, parent, the user points under it)."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.drafting.model import Outline

PROBLEM_WORDS = ("问题", "不足", "差距", "短板")

PLAN_WORDS = ("下一步", "打算", "计划", "思路")


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
        plans.append(
            SectionPlan(h.level, label, h.title, parent if h.level == 2 else "", tuple(points), bool(points) or not has_kids)
        )
    return plans


def section_kind(sec: SectionPlan) -> str:
    """Problems and plans read differently from achievements: 'work' | 'problem' | 'plan'."""
    where = f"{sec.parent} {sec.title}"
    if any(w in where for w in PROBLEM_WORDS):
        return "problem"
    if any(w in where for w in PLAN_WORDS):
        return "plan"
    return "work"
