"""Every conversation saved per user: list, resume, search, export (.md / .docx) and delete (the user's choice).

A turn keeps the question, the answer with its [n] markers, the outcome (answer | related | none), the citations
with their quotes and the timings. Only the owner reads, exports or deletes a conversation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from assistant.core.errors import AssistantError
from assistant.core.types import OUTCOME_LABELS, OUTCOMES
from assistant.office.accounts import UserInfo
from assistant.office.db import Database
from assistant.office.models import Conversation, Message

TITLE_LENGTH = 40


@dataclass(frozen=True)
class CitationRecord:
    """A citation as saved: [n] → 《title》article with the quoted text."""

    n: int
    title: str
    article: str = ""
    quote: str = ""
    chunk_id: str = ""
    superseded: bool = False
    version: str = ""
    source: str = ""
    kb: str = ""

    @property
    def label(self) -> str:
        version = f"({self.version})" if self.version else ""
        return f"《{self.title}》{version}{self.article}" + ("〔旧版〕" if self.superseded else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "title": self.title,
            "article": self.article,
            "quote": self.quote,
            "chunk_id": self.chunk_id,
            "superseded": self.superseded,
            "version": self.version,
            "source": self.source,
            "kb": self.kb,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CitationRecord:
        return cls(
            n=int(d.get("n", 0)),
            title=str(d.get("title", "")),
            article=str(d.get("article", "")),
            quote=str(d.get("quote", "")),
            chunk_id=str(d.get("chunk_id", "")),
            superseded=bool(d.get("superseded", False)),
            version=str(d.get("version", "")),
            source=str(d.get("source", "")),
            kb=str(d.get("kb", "")),
        )


def citation_records(citations: Iterable[CitationRecord | Mapping[str, Any]]) -> tuple[CitationRecord, ...]:
    return tuple(c if isinstance(c, CitationRecord) else CitationRecord.from_dict(c) for c in citations)


@dataclass(frozen=True)
class Turn:
    id: int
    conversation_id: int
    seq: int
    question: str
    answer: str
    outcome: str
    citations: tuple[CitationRecord, ...]
    timings: tuple[tuple[str, float], ...]
    elapsed_ms: float
    created_at: datetime


@dataclass(frozen=True)
class ConversationInfo:
    id: int
    user_id: int
    title: str
    kbs: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    turns: int


@dataclass(frozen=True)
class ConversationDetail:
    conversation: ConversationInfo
    turns: tuple[Turn, ...]

    def chat_history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs, to resume the conversation where it stopped."""
        return [(t.question, t.answer) for t in self.turns]


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    conversation_title: str
    turn: Turn


def _turn(m: Message) -> Turn:
    return Turn(
        id=m.id,
        conversation_id=m.conversation_id,
        seq=m.seq,
        question=m.question,
        answer=m.answer,
        outcome=m.outcome,
        citations=citation_records(m.citations or []),
        timings=tuple((str(k), float(v)) for k, v in (m.timings or {}).items()),
        elapsed_ms=m.elapsed_ms,
        created_at=m.created_at,
    )


def _info(c: Conversation, turns: int) -> ConversationInfo:
    return ConversationInfo(c.id, c.user_id, c.title, tuple(c.kbs or ()), c.created_at, c.updated_at, turns)


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class History:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _own(self, s: Session, user: UserInfo, conversation_id: int) -> Conversation:
        conv = s.get(Conversation, conversation_id)
        if conv is None or conv.user_id != user.id:  # another user's conversation is reported as missing too
            raise AssistantError(
                f"对话编号 {conversation_id} 不存在（或不属于用户 {user.name}）", "在历史记录列表中查看自己的对话编号"
            )
        return conv

    def save_turn(
        self,
        user: UserInfo,
        question: str,
        answer: str,
        outcome: str,
        citations: Iterable[CitationRecord | Mapping[str, Any]] = (),
        *,
        conversation_id: int | None = None,
        kbs: Iterable[str] = (),
        timings: Mapping[str, float] | None = None,
        elapsed_ms: float = 0.0,
    ) -> Turn:
        """Save one question and its answer: appended to ``conversation_id``, or the first turn of a new conversation."""
        question = (question or "").strip()
        if not question:
            raise AssistantError("问题为空，未保存到历史记录", "提出一个问题后再保存")
        if outcome not in OUTCOMES:
            raise AssistantError(f"回答结果 outcome={outcome!r} 无效", f"可用的值：{' | '.join(OUTCOMES)}")
        records = citation_records(citations)
        now = self.db.now()
        with self.db.begin() as s:
            if conversation_id is None:
                title = question if len(question) <= TITLE_LENGTH else question[: TITLE_LENGTH - 1] + "…"
                conv = Conversation(user_id=user.id, title=title, kbs=sorted(set(kbs)), created_at=now, updated_at=now)
                s.add(conv)
                s.flush()
                seq = 1
            else:
                conv = self._own(s, user, conversation_id)
                seq = (s.scalar(select(func.max(Message.seq)).where(Message.conversation_id == conv.id)) or 0) + 1
                conv.updated_at = now
                if kbs:
                    conv.kbs = sorted(set(conv.kbs or ()) | set(kbs))
            msg = Message(
                conversation_id=conv.id,
                seq=seq,
                question=question,
                answer=answer or "",
                outcome=outcome,
                citations=[c.as_dict() for c in records],
                timings={str(k): round(float(v), 3) for k, v in (timings or {}).items()},
                elapsed_ms=round(float(elapsed_ms), 3),
                created_at=now,
            )
            s.add(msg)
            s.flush()
            return _turn(msg)

    def conversations(self, user: UserInfo, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        """The user's conversations, most recently continued first."""
        with self.db.begin() as s:
            turns = (
                select(Message.conversation_id, func.count(Message.id).label("n")).group_by(Message.conversation_id).subquery()
            )
            stmt = (
                select(Conversation, func.coalesce(turns.c.n, 0))
                .outerjoin(turns, turns.c.conversation_id == Conversation.id)
                .where(Conversation.user_id == user.id)
                .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_info(c, n) for c, n in s.execute(stmt)]

    def get(self, user: UserInfo, conversation_id: int) -> ConversationDetail:
        with self.db.begin() as s:
            conv = self._own(s, user, conversation_id)
            turns = tuple(_turn(m) for m in conv.messages)
            return ConversationDetail(_info(conv, len(turns)), turns)

    def search(self, user: UserInfo, text: str, limit: int = 50) -> list[SearchHit]:
        """Turns of the user's conversations whose question, answer or conversation title contains ``text``."""
        text = (text or "").strip()
        if not text:
            raise AssistantError("搜索内容为空", "输入要在历史记录中查找的词")
        pattern = like_pattern(text)
        with self.db.begin() as s:
            stmt = (
                select(Message, Conversation.title)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.user_id == user.id,
                    or_(
                        Message.question.ilike(pattern, escape="\\"),
                        Message.answer.ilike(pattern, escape="\\"),
                        Conversation.title.ilike(pattern, escape="\\"),
                    ),
                )
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(limit)
            )
            return [SearchHit(m.conversation_id, title, _turn(m)) for m, title in s.execute(stmt)]

    def rename(self, user: UserInfo, conversation_id: int, title: str) -> ConversationInfo:
        title = (title or "").strip()
        if not title:
            raise AssistantError("对话标题为空", "输入新的标题")
        with self.db.begin() as s:
            conv = self._own(s, user, conversation_id)
            conv.title = title[:200]
            return _info(conv, len(conv.messages))

    def delete(self, user: UserInfo, conversation_id: int) -> None:
        """Delete one of the user's conversations with all its turns (feedback on them keeps its own copy)."""
        with self.db.begin() as s:
            conv = self._own(s, user, conversation_id)
            s.delete(conv)

    def delete_all(self, user: UserInfo) -> int:
        with self.db.begin() as s:
            ids = list(s.scalars(select(Conversation.id).where(Conversation.user_id == user.id)))
            if ids:
                s.execute(delete(Message).where(Message.conversation_id.in_(ids)))
                s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            return len(ids)

    # ------------------------------------------------------------------ export

    def export_markdown(self, user: UserInfo, conversation_id: int) -> str:
        return to_markdown(self.get(user, conversation_id))

    def export_docx(self, user: UserInfo, conversation_id: int, path: str | Path) -> Path:
        return to_docx(self.get(user, conversation_id), path)


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def to_markdown(detail: ConversationDetail) -> str:
    conv = detail.conversation
    lines = [f"# {conv.title}", "", f"- 开始：{_stamp(conv.created_at)}"]
    if conv.kbs:
        lines.append(f"- 知识库：{'、'.join(conv.kbs)}")
    for t in detail.turns:
        lines += [
            "",
            f"## 问{t.seq}：{t.question}",
            "",
            f"*{OUTCOME_LABELS.get(t.outcome, t.outcome)}*",
            "",
            t.answer.strip() or "（无回答）",
        ]
        if t.citations:
            lines += ["", "**引用依据**", ""]
            lines += [f"- [{c.n}] {c.label}：“{c.quote}”" for c in t.citations]
    return "\n".join(lines) + "\n"


def to_docx(detail: ConversationDetail, path: str | Path) -> Path:
    from docx import Document as WordDocument
    from docx.shared import Pt

    path = Path(path)
    doc = WordDocument()
    conv = detail.conversation
    doc.add_heading(conv.title, level=1)
    meta = f"开始：{_stamp(conv.created_at)}" + (f"　知识库：{'、'.join(conv.kbs)}" if conv.kbs else "")
    doc.add_paragraph(meta)
    for t in detail.turns:
        doc.add_heading(f"问{t.seq}：{t.question}", level=2)
        doc.add_paragraph(OUTCOME_LABELS.get(t.outcome, t.outcome)).runs[0].italic = True
        doc.add_paragraph(t.answer.strip() or "（无回答）")
        if t.citations:
            doc.add_paragraph("引用依据").runs[0].bold = True
            for c in t.citations:
                p = doc.add_paragraph(f"[{c.n}] {c.label}：“{c.quote}”")
                for run in p.runs:
                    run.font.size = Pt(10)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc.save(str(path))
    except OSError as e:
        raise AssistantError(f"无法写入 {path}（{e.strerror}）", "换一个可写的位置或文件名") from None
    return path
