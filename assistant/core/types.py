"""Core value types shared by every layer. Frozen so they can be cached and hashed safely."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

DOC_KINDS = ("regulation", "list", "report", "other")
# How every face names a document kind (facts: the user's own material while drafting).
KIND_LABELS = {"regulation": "法规制度", "list": "责任清单", "report": "工作报告", "other": "其他", "facts": "事实材料"}
# Retrieval modes: keywords (BM25), vectors, or both fused.
MODES = ("hybrid", "bm25", "vector")
MODE_LABELS = {"hybrid": "混合检索", "bm25": "关键词（BM25）", "vector": "向量检索"}
Mode = Literal["bm25", "vector", "hybrid"]
# Where a document came from: the admin-managed knowledge folder (正式文件) or a user's upload (uploads/ in the
# index folder). An upload is quoted with that label and never outranks official text that answers as well.
UPLOADS_PREFIX = "uploads/"
PROVENANCE_LABELS = {"official": "正式文件", "upload": "用户上传"}
UPLOAD_NOTE = "用户上传，仅供参考"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable unit: an article, a table row, a report item.

    ``text`` is the normalized source text (quotes must be substrings of it);
    ``context`` is the title/chapter path prepended for retrieval only.
    """

    id: str
    doc_id: str
    title: str
    text: str
    kind: str = "other"
    context: str = ""
    article: str = ""  # 第N条 / 第R行 / 二、（一）
    path: tuple[str, ...] = ()  # 编/章/节 or heading path
    version: str = ""  # e.g. "2017" or "2018-03-20"
    superseded: bool = False
    superseded_by: str = ""
    source: str = ""  # file path relative to the knowledge dir
    start: int = 0  # char offsets in the normalized document text
    end: int = 0
    extra: tuple[tuple[str, str], ...] = ()  # kind-specific fields (sheet, 责任主体, ...)
    repealed: bool = False  # listed as 已废止 (废止.txt in the knowledge folder): searchable as history, never answered from

    @property
    def retrieval_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def label(self) -> str:
        """Human citation form: 《标题》第N条 (+ superseded note)."""
        label = f"《{self.title}》{self.article}"
        if self.version:
            label = f"《{self.title}》({self.version}){self.article}"
        if self.superseded:
            note = f"已被{self.superseded_by}取代" if self.superseded_by else "已被修订取代"
            label += f"〔旧版，{note}〕"
        if self.repealed:
            label += "〔已废止〕"
        if self.provenance == "upload":
            label += f"〔{UPLOAD_NOTE}〕"
        return label

    @property
    def provenance(self) -> str:
        """"upload" for a file a user uploaded (uploads/…), else "official" (the knowledge folder)."""
        return "upload" if self.source.startswith(UPLOADS_PREFIX) else "official"

    @property
    def status(self) -> str:
        """现行有效, 旧版 when a newer version of the document supersedes it, 已废止 when an admin listed it as repealed."""
        if self.repealed:
            return "已废止"
        return "旧版" if self.superseded else "现行有效"

    @property
    def superseded_notice(self) -> str:
        """The one wording of "this is an old text" wherever a superseded chunk is quoted ("" when it is current)."""
        if not self.superseded:
            return ""
        version = f"（{self.version}年版）" if self.version else ""
        return f"《{self.title}》{version}为旧版文本，已被{self.superseded_by or '新版'}取代，请以现行版本为准。"

    def meta(self, key: str, default: str = "") -> str:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int = 0
    scores: tuple[tuple[str, float], ...] = ()  # per-retriever scores, for explanation


@dataclass(frozen=True)
class Citation:
    n: int
    chunk: Chunk
    quote: str

    def __post_init__(self) -> None:
        if self.quote not in self.chunk.text:
            raise ValueError(f"citation [{self.n}] quote is not in chunk {self.chunk.id}")

    @property
    def label(self) -> str:
        return self.chunk.label


OUTCOMES = ("answer", "related", "none")
OUTCOME_LABELS = {"answer": "有依据的回答", "related": "未找到直接规定（列出可能相关的条文）", "none": "知识库中没有依据"}


@dataclass(frozen=True)
class Decision:
    """Whether the retrieved chunks answer the question: a cited answer, related articles only, or nothing.

    ``terms`` are the question's search tokens with the thesaurus' corpus wording, used to pick sentences;
    ``notes`` say how the question was understood (按同义词表理解：收红包→收受礼金).
    """

    outcome: str
    confidence: float = 1.0
    features: tuple[tuple[str, float], ...] = ()
    terms: tuple[str, ...] = ()
    groups: tuple[frozenset[str], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # answer with [n] markers
    citations: tuple[Citation, ...] = ()
    refused: bool = False  # no cited answer (outcome related or none)
    hits: tuple[Hit, ...] = ()
    query: str = ""  # standalone query actually used for retrieval
    warnings: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = field(default=())  # sentences with no valid citation
    outcome: str = ""  # answer | related | none; empty = derived from ``refused``
    related: tuple[Citation, ...] = ()  # articles that may be relevant, shown as not being an answer
    notes: tuple[str, ...] = ()  # how the question was understood
    confidence: float | None = None
    # A stand-in shown at once (the verified extractive answer while the model writes); a later Answer replaces it.
    provisional: bool = False

    def __post_init__(self) -> None:
        if not self.outcome:
            object.__setattr__(self, "outcome", "none" if self.refused else "answer")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form shared by `assistant ask --json` and the web API."""
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "outcome": self.outcome,
            "outcome_label": OUTCOME_LABELS[self.outcome],
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "provisional": self.provisional,
            "notes": list(self.notes),
            "refused": self.refused,
            "citations": [
                {
                    "n": c.n,
                    "label": c.label,
                    "quote": c.quote,
                    "source": c.chunk.source,
                    "chunk_id": c.chunk.id,
                    "superseded": c.chunk.superseded,
                    "provenance": PROVENANCE_LABELS[c.chunk.provenance],
                    "status": c.chunk.status,
                }
                for c in self.citations
            ],
            "related": [
                {"n": c.n, "label": c.label, "quote": c.quote, "source": c.chunk.source, "chunk_id": c.chunk.id}
                for c in self.related
            ],
            "warnings": list(self.warnings),
            "unsupported": list(self.unsupported),
        }

    def sources_text(self) -> str:
        return "\n".join(f"[{c.n}] {c.label}：“{c.quote}”" for c in self.citations)


@dataclass(frozen=True)
class Document:
    """A loaded source file, before chunking."""

    doc_id: str
    title: str
    text: str  # normalized full text (markdown-ish for structured sources)
    kind: str
    source: str
    version: str = ""
    rows: tuple[tuple[tuple[str, str], ...], ...] = ()  # table rows as (header, value) pairs
    sheet_rows: tuple[tuple[str, int], ...] = ()  # (sheet, row number) per row
    warnings: tuple[str, ...] = ()
    ocr_pages: tuple[tuple[int, float], ...] = ()  # (page number, OCR confidence 0..1) of the pages read by OCR


# The citation syntax of answer and draft text: [n] points at citation n; an unsupported claim carries the mark.
MARKER = re.compile(r"\[(\d{1,3})\]")
UNSUPPORTED_MARK = "〔未找到依据〕"


def final_answer(items: Iterable[str | Answer]) -> Answer:
    """The last Answer of an answer stream (text deltas and provisional Answers come before it)."""
    final = None
    for item in items:
        if isinstance(item, Answer):
            final = item
    if final is None:
        raise ValueError("an answer stream ended without an Answer")
    return final


@dataclass(frozen=True)
class DocumentStatus:
    """One file of a knowledge base against its live index (``kb list``, the 知识库 page).

    status: indexed | changed | pending | missing | failed | duplicate | skipped | excluded; ``error`` says why a file
    is not in the index; ``ocr_low`` are the pages read by OCR below the confidence worth trusting."""

    path: str
    status: str
    kind: str = ""
    title: str = ""
    chunks: int = 0
    error: str = ""
    warnings: tuple[str, ...] = ()
    ocr_pages: tuple[tuple[int, float], ...] = ()
    ocr_low: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class IndexedDocument:
    """One file in a knowledge base's live index, as its manifest records it (the 知识库 page's table).

    ``kind_override``: the kind a user chose on upload, else empty; ``ocr_pages``: (page, confidence) read by OCR."""

    path: str
    sha256: str = ""
    title: str = ""
    kind: str = ""
    kind_override: str = ""
    version: str = ""
    chunks: int = 0
    warnings: tuple[str, ...] = ()
    ocr_pages: tuple[tuple[int, float], ...] = ()

    @classmethod
    def from_manifest(cls, path: str, entry: dict[str, Any]) -> IndexedDocument:
        """From a manifest's file entry; fields an older index did not record stay empty."""
        return cls(
            path=path,
            sha256=entry.get("sha256") or "",
            title=entry.get("title") or "",
            kind=entry.get("kind") or "",
            kind_override=entry.get("kind_override") or "",
            version=entry.get("version") or "",
            chunks=int(entry.get("chunks") or 0),
            warnings=tuple(entry.get("warnings") or ()),
            ocr_pages=tuple((int(page), float(conf)) for page, conf in entry.get("ocr_pages") or ()),
        )

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class KbStats:
    """A knowledge base's live index in figures."""

    kb: str
    generation: str | None
    documents: int
    chunks: int
    kinds: dict[str, int]
    embedder: str
    errors: dict[str, str]
    index_bytes: int
    knowledge_bases: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
