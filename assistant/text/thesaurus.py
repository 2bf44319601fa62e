"""The Party-discipline thesaurus: everyday names, nicknames, abbreviations and English → the regulations' wording.

Entries live in editable TSV files: the packaged `resources/thesaurus.tsv`, plus any `同义词*.tsv` /
`thesaurus*.tsv` in the knowledge folder, so an office adds its own words without code. One entry a line:

    口语或别称<TAB>条文用语（多个用 | 分隔）[<TAB>类别[<TAB>出处]]

Lines starting with # are comments. Matching is on the NFKC-normalized question: Chinese terms as substrings,
English terms as whole words, longest first, so 开除党籍 is not also read as 开除.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.core.messages import error
from assistant.core.resources import RESOURCES
from assistant.text import normalize, squeeze_cjk_spaces

log = logging.getLogger(__name__)

PACKAGED = RESOURCES / "thesaurus.tsv"
USER_PATTERNS = ("同义词*.tsv", "thesaurus*.tsv")
_ASCII_WORD = re.compile(r"^[A-Za-z0-9 .'\-]+$")


@dataclass(frozen=True)
class Entry:
    term: str  # what a user types (lower case for English)
    canon: tuple[str, ...]  # the corpus wording it stands for
    category: str = ""
    source: str = ""  # where it came from: file:line


@dataclass(frozen=True)
class Match:
    term: str
    start: int
    end: int
    canon: tuple[str, ...]


def user_files(knowledge_dir: Path | None) -> list[Path]:
    """Thesaurus files an office keeps in its knowledge folder (top level only)."""
    if knowledge_dir is None or not Path(knowledge_dir).is_dir():
        return []
    found: set[Path] = set()
    for pattern in USER_PATTERNS:
        found.update(p for p in Path(knowledge_dir).glob(pattern) if p.is_file())
    return sorted(found)


def thesaurus_stamp(knowledge_dir: Path | None) -> tuple[tuple[str, int, int], ...]:
    """What changes when any thesaurus file is edited, added or removed (names, sizes, mtimes)."""
    paths = ([PACKAGED] if PACKAGED.is_file() else []) + user_files(knowledge_dir)
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def is_thesaurus_file(name: str) -> bool:
    """True for a file name that ingest must leave alone (it is vocabulary, not knowledge)."""
    return any(Path(name).match(p) for p in USER_PATTERNS)


def parse(lines: Iterable[str], origin: str) -> list[Entry]:
    """Entries of one TSV file; a malformed line is an error naming the file and line."""
    out: list[Entry] = []
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise error("thesaurus_bad_line", origin=origin, n=n, line=line[:40])
        term = squeeze_cjk_spaces(normalize(cols[0].strip()))
        if _ASCII_WORD.match(term):
            term = term.lower()
        canon = tuple(dict.fromkeys(normalize(c.strip()) for c in cols[1].split("|") if c.strip()))
        canon = tuple(c for c in canon if c != term)
        if not canon:
            continue
        category = cols[2].strip() if len(cols) > 2 else ""
        source = cols[3].strip() if len(cols) > 3 else ""
        out.append(Entry(term, canon, category, source or f"{origin}:{n}"))
    return out


class Thesaurus:
    """All entries, merged by term (a user's entry adds to the packaged one)."""

    def __init__(self, entries: Sequence[Entry] = ()) -> None:
        merged: dict[str, list[str]] = {}
        self.categories: dict[str, str] = {}
        for e in entries:
            merged.setdefault(e.term, [])
            merged[e.term].extend(c for c in e.canon if c not in merged[e.term])
            self.categories.setdefault(e.term, e.category)
        self.entries: dict[str, tuple[str, ...]] = {t: tuple(c) for t, c in merged.items()}
        for t, c in list(self.entries.items()):
            if _ASCII_WORD.match(t):
                for form in inflections(t):
                    self.entries.setdefault(form, c)  # an entry of its own (bribes) wins over the derived form
        cjk = sorted((t for t in self.entries if not _ASCII_WORD.match(t)), key=len, reverse=True)
        eng = sorted((t for t in self.entries if _ASCII_WORD.match(t)), key=len, reverse=True)
        self._cjk = re.compile("|".join(map(re.escape, cjk))) if cjk else None
        self._eng = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, eng)) + r")(?![a-z0-9])") if eng else None

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, knowledge_dir: Path | None = None, packaged: Path | None = PACKAGED) -> Thesaurus:
        entries: list[Entry] = []
        paths = ([packaged] if packaged is not None and packaged.is_file() else []) + user_files(knowledge_dir)
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:
                text = path.read_text(encoding="gb18030")
            entries.extend(parse(text.splitlines(), path.name))
        log.debug("thesaurus: %d entries from %s", len(entries), ", ".join(p.name for p in paths))
        return cls(entries)

    def matches(self, text: str) -> list[Match]:
        """Non-overlapping matches in ``text`` (already normalized), longest term first at each position."""
        found: list[Match] = []
        taken = [False] * len(text)
        lower = text.lower()
        for pattern, hay in ((self._cjk, text), (self._eng, lower)):
            if pattern is None:
                continue
            for m in _overlapping(pattern, hay):
                if any(taken[m[0] : m[1]]):
                    continue
                term = hay[m[0] : m[1]]
                found.append(Match(term, m[0], m[1], self.entries[term]))
                for i in range(m[0], m[1]):
                    taken[i] = True
        return sorted(found, key=lambda x: x.start)


def inflections(term: str) -> set[str]:
    """Plural, past and -ing forms of a one-word English term (resigned, kids, lobbying), the plural of a phrase's last
    word (annual reviews), so an entry needs only its base form. Whole-word matching keeps a derived form from
    matching inside another word."""
    head, _, last = term.rpartition(" ")
    if len(last) < 3 or not last.isalpha():
        return set()
    verb = not head  # a phrase (party constitution) takes only the plural
    stems = {last + "s"} | ({last + "ed", last + "ing"} if verb else set())
    if last.endswith(("s", "x", "ch", "sh")):
        stems |= {last + "es"}
    if last.endswith("e") and verb:
        stems |= {last + "d", last[:-1] + "ing"}
    if last.endswith("y") and last[-2] not in "aeiou":
        stems |= {last[:-1] + "ies"} | ({last[:-1] + "ied"} if verb else set())
    return {f"{head} {s}" if head else s for s in stems}


def _overlapping(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Every match at every start position (a regex scan alone would skip a longer term starting inside a shorter one),
    longest first, so the caller can take them greedily."""
    spans = []
    for i in range(len(text)):
        m = pattern.match(text, i)
        if m and m.end() > i:
            spans.append((i, m.end()))
    return sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0]))
