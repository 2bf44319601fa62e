"""Frozen value types of a draft: outline headings, sections, paragraphs, and the check result."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.types import Citation
from assistant.text.structure import int_to_cn

LEVELS = {1: "一、", 2: "（一）", 3: "一是"}


def marker(level: int, n: int) -> str:
    """The number marker of the n-th heading at a level: 二、 / （二） / 二是."""
    cn = int_to_cn(n)
    return {1: f"{cn}、", 2: f"（{cn}）", 3: f"{cn}是"}[level]


@dataclass(frozen=True)
class Heading:
    level: int  # 1 = 一、, 2 = （一）, 3 = 一是 (a point written inside its parent's paragraph)
    title: str  # without the number marker


@dataclass(frozen=True)
class Outline:
    title: str  # document title; empty when drafting a single section
    headings: tuple[Heading, ...]
    start: int = 1  # number of the first 一、 heading (a single section may be 二、)
    source: str = ""  # where the structure came from, shown to the user

    def numbered(self) -> list[tuple[Heading, str]]:
        """Each heading with its marker; numbering restarts under each parent."""
        counts = {1: self.start - 1, 2: 0, 3: 0}
        out = []
        for h in self.headings:
            counts[h.level] += 1
            for deeper in range(h.level + 1, 4):
                counts[deeper] = 0
            out.append((h, marker(h.level, counts[h.level])))
        return out

    def text(self) -> str:
        """Editable text form: one heading per line, 一是 points indented; parse_outline reads it back."""
        lines = [f"# {self.title}"] if self.title else []
        for h, mark in self.numbered():
            lines.append(("    " if h.level == 3 else "") + mark + h.title)
        return "\n".join(lines)


@dataclass(frozen=True)
class Paragraph:
    text: str  # with [n] markers numbered as in Draft.citations
    citations: tuple[Citation, ...] = ()
    placeholders: int = 0  # 【待补充…】 and ** left for the writer to fill
    unsupported: tuple[str, ...] = ()  # claims whose citation did not verify
    masked: tuple[str, ...] = ()  # figures replaced by ** because no fact or source contains them


@dataclass(frozen=True)
class Section:
    level: int
    label: str  # 二、 / （一）
    title: str
    paragraphs: tuple[Paragraph, ...] = ()
    pending: bool = False  # the template paragraph, shown while the model rewords it (a draft snapshot, not final)
    note: str = ""  # why the template paragraph stays (the model failed, or its rewording did not pass the checks)

    @property
    def heading(self) -> str:
        return f"{self.label}{self.title}"


@dataclass(frozen=True)
class CheckResult:
    claims: int  # sentences that state something (placeholders excluded)
    cited: int  # of those, sentences whose citations verified
    placeholders: int
    unsupported: tuple[str, ...] = ()
    unknown_numbers: tuple[str, ...] = ()
    uncited_paragraphs: int = 0
    issues: tuple[str, ...] = ()

    @property
    def cited_share(self) -> float:
        return self.cited / self.claims if self.claims else 0.0


@dataclass(frozen=True)
class Draft:
    topic: str
    outline: Outline
    sections: tuple[Section, ...]
    citations: tuple[Citation, ...]  # the sources appendix, numbered in order of first use
    check: CheckResult | None = None
    warnings: tuple[str, ...] = ()
    backend: str = "template"  # template | llm
    sentences: int = 0  # cited sentences the LLM may reword
    llm_sentences: int = 0  # of those, reworded by the model (the rest keep the template wording)

    @property
    def title(self) -> str:
        return self.outline.title

    @property
    def provisional(self) -> bool:
        """A snapshot while the model rewords: some sections still show the template paragraph. Never exported."""
        return any(s.pending for s in self.sections)

    @property
    def paragraphs(self) -> list[Paragraph]:
        return [p for s in self.sections for p in s.paragraphs]
