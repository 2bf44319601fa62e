"""The check pass of a draft. Citations are verified by assistant.answering.verify (the one verifier);
this module adds what drafts need on top: placeholders are not claims, figures that no fact or source
contains become **, citations are renumbered across the document, and the whole draft is re-checked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.answering.extractive import superseded_warnings
from assistant.answering.verify import verify
from assistant.core.types import MARKER, UNSUPPORTED_MARK, Chunk, Citation
from assistant.drafting.model import CheckResult, Draft, Paragraph

PLACEHOLDER = re.compile(r"【待补充[^】]*】|\*\*")
# Markers are matched first so their numbers are never taken for figures.
_FIGURE = re.compile(
    r"\[\d{1,3}\]"
    r"|(\d+(?:[.,]\d+)*%?"
    # Chinese numerals only before units that count things; 一起/一批/一次性 are ordinary words.
    r"|[零〇一二两三四五六七八九十百千万]+(?=(?:人次|次(?!性)|人|名|件|篇|场|万元|元|小时)))"
)
_AFTER_STOP = re.compile(r"([。！？；])((?:\[\d{1,3}\])+)")
# A sentence that ends in its [n] markers, as verify() writes them.
_CITED = re.compile(r"[^。！？\n]*[。！？]?(?:\[\d{1,3}\])+")


def figures(text: str) -> list[str]:
    return [m.group(1) for m in _FIGURE.finditer(text) if m.group(1)]


def allowed_figures(texts: Iterable[str]) -> set[str]:
    """Every figure that occurs in the user's facts, the topic/outline, or a source chunk."""
    out: set[str] = set()
    for t in texts:
        out.update(figures(t))
    return out


def mask_unknown_figures(text: str, allowed: set[str]) -> tuple[str, tuple[str, ...]]:
    """Replace figures that no fact or source contains with ** (the writer fills them in)."""
    masked: list[str] = []

    def sub(m: re.Match) -> str:
        fig = m.group(1)
        if not fig or fig in allowed:
            return m.group(0)
        masked.append(fig)
        return "**"

    return _FIGURE.sub(sub, text), tuple(masked)


def is_placeholder(sentence: str) -> bool:
    return bool(PLACEHOLDER.search(sentence))


class Numbering:
    """Document-wide citation numbers: one number per cited chunk, in order of first use."""

    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.citations: list[Citation] = []

    def fork(self) -> Numbering:
        """A copy to number a trial paragraph with; the original is untouched if the trial is discarded."""
        other = Numbering()
        other.by_id, other.citations = dict(self.by_id), list(self.citations)
        return other

    def number(self, c: Citation) -> int:
        if c.chunk.id not in self.by_id:
            self.by_id[c.chunk.id] = len(self.citations) + 1
            self.citations.append(Citation(self.by_id[c.chunk.id], c.chunk, c.quote))
        return self.by_id[c.chunk.id]


def _unmark_placeholders(text: str, unsupported: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """A 【待补充】 sentence asks the writer for input; it is not a claim, so it loses the 〔未找到依据〕 mark."""
    real = []
    for s in unsupported:
        if is_placeholder(s):
            text = text.replace(s + UNSUPPORTED_MARK, s, 1)
        else:
            real.append(s)
    return text, tuple(real)


def finish_paragraph(raw: str, context: Sequence[Chunk], allowed: set[str], numbering: Numbering) -> Paragraph:
    """Mask unknown figures, verify the [n] markers against ``context`` (what [n] meant when written),
    and renumber them to the document-wide numbers."""
    text, masked = mask_unknown_figures(raw.strip(), allowed)
    v = verify(text, context)
    text, unsupported = _unmark_placeholders(v.text, v.unsupported)
    mapping = {c.n: numbering.number(c) for c in v.citations}
    text = MARKER.sub(lambda m: f"[{mapping[int(m.group(1))]}]", text)
    # verify() puts markers after the full stop; Chinese typesetting puts them before it.
    text = _AFTER_STOP.sub(r"\2\1", text)
    citations = tuple(Citation(mapping[c.n], c.chunk, c.quote) for c in v.citations)
    return Paragraph(text, citations, len(PLACEHOLDER.findall(text)), unsupported, masked)


def check_draft(draft: Draft, allowed_texts: Iterable[str] = ()) -> CheckResult:
    """Re-verify every paragraph against the sources appendix and count what a reviewer must still fix."""
    context = [c.chunk for c in draft.citations]
    allowed = allowed_figures([*allowed_texts, draft.topic, draft.outline.text(), *(c.text for c in context)])
    claims = cited = placeholders = uncited = 0
    unsupported: list[str] = []
    unknown: list[str] = []
    issues: list[str] = []
    for section in draft.sections:
        for i, p in enumerate(section.paragraphs, 1):
            v = verify(p.text.replace(UNSUPPORTED_MARK, ""), context)
            _, real = _unmark_placeholders(v.text, v.unsupported)
            n_cited = len([m for m in _CITED.finditer(v.text) if MARKER.search(m.group(0))])
            claims += n_cited + len(real)
            cited += n_cited
            unsupported.extend(real)
            placeholders += len(PLACEHOLDER.findall(p.text))
            where = f"{section.heading} 第{i}段"
            if v.dropped:
                issues.append(f"{where}：引用 {', '.join(f'[{n}]' for n in v.dropped)} 未通过核验")
            if not v.citations:
                uncited += 1
                issues.append(f"{where}：没有任何有效引用")
            for s in real:
                issues.append(f"{where}：“{s[:40]}”未找到依据")
            for fig in figures(MARKER.sub("", p.text)):
                if fig not in allowed:
                    unknown.append(fig)
                    issues.append(f"{where}：数字“{fig}”在事实材料和引用来源中都没有")
    if placeholders:
        issues.append(f"共有 {placeholders} 处【待补充】或 ** 需要根据本单位实际填写")
    issues.extend(superseded_warnings(draft.citations))
    return CheckResult(
        claims=claims,
        cited=cited,
        placeholders=placeholders,
        unsupported=tuple(unsupported),
        unknown_numbers=tuple(unknown),
        uncited_paragraphs=uncited,
        issues=tuple(issues),
    )
