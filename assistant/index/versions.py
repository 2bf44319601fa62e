"""What changed between two versions of a document: articles aligned by content (character-bigram Dice
similarity, order kept by a dynamic-programming alignment, so renumbered articles still match), each pair
labelled 未变/修改, unmatched ones 新增/删除, with a character-level diff (difflib) per modified article."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.messages import error
from assistant.text.similarity import dice
from assistant.text.structure import CN_NUM

_ARTICLE = re.compile(rf"^第([{CN_NUM}\d]+)条(?:[ 　]+|(?=[^ 　]))(.*)$")
_HEADING = re.compile(rf"^(?:#+ |第[{CN_NUM}]+[编章节](?:[ 　]|$)|目\s*录)")
SPLIT_MIN = 0.75  # a 新增 article with a paragraph this similar to one of an old article's was split out of it
MATCH_MIN = 0.35  # below this Dice similarity two articles are not versions of each other


@dataclass
class Article:
    number: str  # 第N条
    text: str  # body without the number


@dataclass
class Change:
    status: str  # 新增 | 删除 | 修改 | 未变
    old: Article | None
    new: Article | None
    similarity: float = 0.0
    diff: list[tuple[str, str]] = field(default_factory=list)  # (op, text): op in = + -
    source: Article | None = None  # for 新增: the old article most of its text was split out of

    @property
    def was(self) -> Article:
        """The old article; every change but 新增 has one."""
        if self.old is None:
            raise ValueError(f"a {self.status} change has no old article")
        return self.old

    @property
    def now(self) -> Article:
        """The new article; every change but 删除 has one."""
        if self.new is None:
            raise ValueError(f"a {self.status} change has no new article")
        return self.new


def parse_articles(text: str) -> list[Article]:
    articles: list[Article] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        m = _ARTICLE.match(line)
        if m:
            articles.append(Article(f"第{m.group(1)}条", m.group(2).strip()))
        elif _HEADING.match(line):
            if articles:
                articles.append(Article("", ""))  # a heading ends the article: sentinel, dropped below
        elif articles and articles[-1].number:
            articles[-1].text += "\n" + line
    return [a for a in articles if a.number]


def char_diff(old: str, new: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(("=", old[i1:i2]))
        else:
            if i2 > i1:
                out.append(("-", old[i1:i2]))
            if j2 > j1:
                out.append(("+", new[j1:j2]))
    return out


def align(old: list[Article], new: list[Article]) -> list[Change]:
    """Monotonic alignment maximizing the summed similarity of matched pairs (pairs under MATCH_MIN never match)."""
    n, m = len(old), len(new)
    sim = [[dice(o.text, w.text) for w in new] for o in old]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    move = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            options = []
            if i > 0:
                options.append((best[i - 1][j], "del"))
            if j > 0:
                options.append((best[i][j - 1], "add"))
            if i > 0 and j > 0 and sim[i - 1][j - 1] >= MATCH_MIN:
                options.append((best[i - 1][j - 1] + sim[i - 1][j - 1], "match"))
            best[i][j], move[i][j] = max(options, key=lambda t: t[0])
    changes: list[Change] = []
    i, j = n, m
    while i > 0 or j > 0:
        step = move[i][j]
        if step == "match":
            o, w, s = old[i - 1], new[j - 1], sim[i - 1][j - 1]
            if o.text == w.text:
                changes.append(Change("未变", o, w, 1.0))
            else:
                changes.append(Change("修改", o, w, s, char_diff(o.text, w.text)))
            i, j = i - 1, j - 1
        elif step == "del":
            changes.append(Change("删除", old[i - 1], None))
            i -= 1
        else:
            changes.append(Change("新增", None, new[j - 1]))
            j -= 1
    changes.reverse()
    for c in changes:
        if c.status == "新增":
            best_old = max(old, key=lambda o: containment(c.now.text, o.text), default=None)
            if best_old is not None and containment(c.now.text, best_old.text) >= SPLIT_MIN:
                c.source = best_old
                c.similarity = containment(c.now.text, best_old.text)
                c.diff = char_diff(best_old.text, c.now.text)
    return changes


def containment(part: str, whole: str) -> float:
    """How far an article was split out of an old one: the best similarity between one of its paragraphs
    and one of the old article's paragraphs (a moved paragraph scores near 1, shared stock phrases do not)."""
    pairs = [dice(a, b) for a in part.split("\n") if len(a) >= 10 for b in whole.split("\n") if len(b) >= 10]
    return max(pairs, default=0.0)


def find_version(folder: Path, title: str, year: str) -> Path:
    hits = sorted(p for p in folder.rglob(f"*{title}*{year}*") if p.suffix.lower() in (".md", ".txt"))
    exact = [p for p in hits if re.sub(r"[（(]\d{4}[)）]$", "", p.stem) == title]
    if not (exact or hits):
        raise error("version_file_missing", folder=folder, title=title, year=year)
    return (exact or hits)[0]


def compare(folder: Path, title: str, old_year: str, new_year: str) -> list[Change]:
    old = parse_articles(find_version(folder, title, old_year).read_text(encoding="utf-8"))
    new = parse_articles(find_version(folder, title, new_year).read_text(encoding="utf-8"))
    return align(old, new)


def summary(changes: list[Change]) -> dict[str, int]:
    counts = {k: 0 for k in ("未变", "修改", "新增", "删除")}
    for c in changes:
        counts[c.status] += 1
    return counts


def earlier_version(changes: list[Change], number: str, old_year: str, new_year: str) -> str:
    """For the answerer: '2024年修改前为第N条：…' when the current article differs from its earlier version."""
    for c in changes:
        if c.new is not None and c.new.number == number:
            if c.status == "修改":
                return f"{new_year}年修改前为{c.was.number}：{c.was.text}"
            if c.status == "新增" and c.source is not None:
                return f"{new_year}年修改前为{c.source.number}的一部分：{c.source.text}"
            if c.status == "新增":
                return f"{new_year}年新增条文（{old_year}年版本无对应条文）"
            return ""
    return ""


def render(changes: list[Change], title: str, old_year: str, new_year: str) -> str:
    counts = summary(changes)
    lines = [f"《{title}》{old_year}年版 → {new_year}年版：未变 {counts['未变']} 条，修改 {counts['修改']} 条，"
             f"新增 {counts['新增']} 条，删除 {counts['删除']} 条"]
    for c in changes:
        if c.status == "未变":
            if c.was.number != c.now.number:
                lines.append(f"【未变】{c.was.number} → {c.now.number}（仅条号变化）")
            continue
        if c.status == "新增" and c.source is not None:
            lines.append(f"【新增】{c.now.number}（由{old_year}年版{c.source.number}拆分而来）{c.now.text}")
        elif c.status == "新增":
            lines.append(f"【新增】{c.now.number} {c.now.text}")
        elif c.status == "删除":
            lines.append(f"【删除】{c.was.number} {c.was.text}")
        else:
            marked = "".join(t if op == "=" else (f"[-{t}-]" if op == "-" else f"[+{t}+]") for op, t in c.diff)
            lines.append(f"【修改】{c.was.number} → {c.now.number}（相似度 {c.similarity:.2f}）{marked}")
    return "\n".join(lines)
