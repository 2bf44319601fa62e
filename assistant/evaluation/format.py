"""The shared Q&A format (one JSON object per line; see evals/README.md) and how gold sources match chunks."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.resources import PROJECT_ROOT
from assistant.core.types import Chunk

TYPES = ("policy", "list", "report", "draft", "unanswerable")
_FIELDS = {"id", "question", "answerable", "gold", "keypoints", "type", "all_required", "notes", "style"}
# "中国共产党章程(2017)" / "中国共产党章程（2017）" / "监察法(2018-03-20)": a file-name style version suffix.
_VERSION_SUFFIX = re.compile(r"^(.*?)[（(]((?:19|20)\d{2})(?:[-.]\d{1,2}(?:[-.]\d{1,2})?)?[）)]$")


@dataclass(frozen=True)
class GoldSource:
    doc: str  # title as in the document's first line, or the file name without extension
    article: str = ""  # 第N条 (or a section label such as 九、…); empty = any part of the document

    def as_dict(self) -> dict:
        return {"doc": self.doc, "article": self.article}


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answerable: bool
    gold: tuple[GoldSource, ...] = ()
    keypoints: tuple[str, ...] = ()  # a keypoint may list alternatives as "二年|两年"
    type: str = "policy"
    all_required: bool = False
    notes: str = ""
    style: str = ""  # how the question is worded (口语, 简称, 错别字, 英文混合, …), for per-style figures

    def as_dict(self) -> dict:
        d = {
            "id": self.id,
            "question": self.question,
            "answerable": self.answerable,
            "gold": [g.as_dict() for g in self.gold],
            "keypoints": list(self.keypoints),
            "type": self.type,
        }
        if self.all_required:
            d["all_required"] = True
        if self.notes:
            d["notes"] = self.notes
        if self.style:
            d["style"] = self.style
        return d


def _fail(where: str, message: str) -> AssistantError:
    return error("qa_line_invalid", where=where, problem=message)


def parse_item(data: object, where: str = "item") -> QAItem:
    """Validate one decoded JSON object; every problem is reported with its location."""
    if not isinstance(data, dict):
        raise _fail(where, "每行必须是一个 JSON 对象")
    unknown = set(data) - _FIELDS
    if unknown:
        raise _fail(where, f"未知字段 {'、'.join(sorted(unknown))}")
    for key in ("id", "question", "answerable"):
        if key not in data:
            raise _fail(where, f"缺少字段 {key!r}")
    if not isinstance(data["id"], str | int) or not str(data["id"]).strip():
        raise _fail(where, "id 必须是非空字符串")
    if not isinstance(data["question"], str) or not data["question"].strip():
        raise _fail(where, "question 必须是非空字符串")
    if not isinstance(data["answerable"], bool):
        raise _fail(where, "answerable 必须是 true 或 false")
    gold_raw = data.get("gold", [])
    if not isinstance(gold_raw, list):
        raise _fail(where, "gold 必须是 {doc, article} 的列表")
    gold = []
    for g in gold_raw:
        if not isinstance(g, dict) or not isinstance(g.get("doc"), str) or not g["doc"].strip():
            raise _fail(where, "每个 gold 出处都需要非空的 doc")
        if set(g) - {"doc", "article"}:
            raise _fail(where, f"gold 出处的字段只能是 doc 和 article，实际为 {sorted(g)}")
        article = g.get("article", "")
        if not isinstance(article, str):
            raise _fail(where, "gold 的 article 必须是“第八条”这样的字符串")
        gold.append(GoldSource(g["doc"].strip(), article.strip()))
    keypoints = data.get("keypoints", [])
    if not isinstance(keypoints, list) or not all(isinstance(k, str) and k.strip() for k in keypoints):
        raise _fail(where, "keypoints 必须是非空字符串的列表")
    qtype = data.get("type", "unanswerable" if not data["answerable"] else "policy")
    if qtype not in TYPES:
        raise _fail(where, f"type 必须是以下之一：{'、'.join(TYPES)}")
    if data["answerable"] and not gold:
        raise _fail(where, "可回答的问题至少需要一个 gold 出处")
    if not data["answerable"] and qtype != "unanswerable":
        raise _fail(where, "不可回答的问题 type 必须是 unanswerable")
    all_required = data.get("all_required", False)
    if not isinstance(all_required, bool):
        raise _fail(where, "all_required 必须是 true 或 false")
    return QAItem(
        id=str(data["id"]).strip(),
        question=data["question"].strip(),
        answerable=data["answerable"],
        gold=tuple(gold),
        keypoints=tuple(k.strip() for k in keypoints),
        type=qtype,
        all_required=all_required,
        notes=str(data.get("notes", "")),
        style=str(data.get("style", "")),
    )


def load_qa(path: str | Path) -> list[QAItem]:
    """Read a JSONL Q&A set from any path. Blank lines and lines starting with // are skipped."""
    path = Path(path)
    if not path.is_file():
        raise error("qa_set_not_found", path=path)
    items: list[QAItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path.name} line {n}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise _fail(where, f"不是有效的 JSON（{e.msg}）") from None
        item = parse_item(data, where)
        if item.id in seen:
            raise _fail(where, f"重复的 id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise error("qa_set_no_questions", path=path)
    return items


def dump_qa(items: Iterable[QAItem], path: str | Path) -> None:
    Path(path).write_text("".join(json.dumps(i.as_dict(), ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


# ---------------------------------------------------------------- matching gold sources against chunks


def squash(text: str) -> str:
    """Compare text loosely: NFKC, lower case, no whitespace, punctuation or symbols (、，“” …)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZ")


def split_doc(doc: str) -> tuple[str, str]:
    """'中国共产党章程(2017)' -> ('中国共产党章程', '2017'); a plain title has no version."""
    m = _VERSION_SUFFIX.match(doc.strip())
    return (m.group(1).strip(), m.group(2)) if m else (doc.strip(), "")


def doc_matches(chunk: Chunk, doc: str) -> bool:
    """A gold doc names a chunk's document by title, title(version), or the source file name without extension."""
    title, version = split_doc(doc)
    stem = Path(chunk.source).stem if chunk.source else ""
    if squash(doc) == squash(stem):
        return True
    if squash(title) != squash(chunk.title):
        return False
    return not version or chunk.version[:4] == version


def article_matches(chunk: Chunk, article: str) -> bool:
    """Parts of a split article keep its label, so any part of 第N条 counts; '九、' matches '九、严格党的组织生活制度'."""
    if not article:
        return True
    want, have = squash(article), squash(chunk.article)
    if want == have:
        return True
    # Section labels may be given by their number only ("九、") or in full.
    return article.rstrip().endswith("、") and chunk.article.startswith(article.strip())


def gold_index(chunk: Chunk, gold: Sequence[GoldSource]) -> int:
    """Index of the first gold source this chunk satisfies, -1 if none."""
    for i, g in enumerate(gold):
        if doc_matches(chunk, g.doc) and article_matches(chunk, g.article):
            return i
    return -1


def keypoint_found(keypoint: str, text: str) -> bool:
    """A keypoint is found when any of its |-separated alternatives occurs in the text (loosely compared)."""
    hay = squash(text)
    return any(squash(alt) and squash(alt) in hay for alt in keypoint.split("|"))


def sets_dir() -> Path:
    return PROJECT_ROOT / "evals" / "sets"


def list_sets() -> list[Path]:
    return sorted(sets_dir().glob("*.jsonl"))


@dataclass
class SetStats:
    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    types: dict[str, int] = field(default_factory=dict)
    docs: dict[str, int] = field(default_factory=dict)


def set_stats(items: Sequence[QAItem]) -> SetStats:
    s = SetStats(questions=len(items))
    for it in items:
        s.answerable += it.answerable
        s.unanswerable += not it.answerable
        s.types[it.type] = s.types.get(it.type, 0) + 1
        for doc in {split_doc(g.doc)[0] for g in it.gold}:
            s.docs[doc] = s.docs.get(doc, 0) + 1
    return s


def gold_problems(items: Sequence[QAItem], chunks: Sequence[Chunk]) -> list[str]:
    """Check a set against chunks: every gold source exists, and every keypoint of an answerable
    question occurs in the text of its gold sources (so the gold really answers it)."""
    problems = []
    for it in items:
        gold_text: list[str] = []
        for g in it.gold:
            found = [c for c in chunks if doc_matches(c, g.doc) and article_matches(c, g.article)]
            if not found:
                docs = [c for c in chunks if doc_matches(c, g.doc)]
                what = f"article {g.article!r} not in {g.doc}" if docs else f"document {g.doc!r} not found"
                problems.append(f"{it.id}: {what}")
            gold_text.extend(c.text for c in found)
        if it.answerable and gold_text:
            joined = "\n".join(gold_text)
            for kp in it.keypoints:
                if not keypoint_found(kp, joined):
                    problems.append(f"{it.id}: keypoint {kp!r} is not in its gold articles")
    return problems
