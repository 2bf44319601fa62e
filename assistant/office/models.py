"""Tables of the office database (SQLAlchemy 2 typed declarative models).

These ORM classes stay inside ``assistant.office``: its public functions return frozen dataclasses. The schema is
created and changed by the Alembic revisions in ``migrations/versions`` (``migrations.upgrade(url)``), never by
``create_all``; ``tests/test_office_db.py`` checks that the revisions and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.types import TypeDecorator

from assistant.core.errors import AssistantError


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ROLES = ("admin", "editor", "reader")
GRANT_ROLES = ("reader", "editor")
FEEDBACK_STATUSES = ("new", "accepted", "rejected")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'editor', 'reader')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]

    grants: Mapped[list[KbGrant]] = relationship(back_populates="user", cascade="all, delete-orphan", order_by="KbGrant.kb")


class KbGrant(Base):
    __tablename__ = "kb_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "kb"),
        CheckConstraint("role IN ('reader', 'editor')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kb: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="grants")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, shown to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole key
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginSession(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """Failed logins per (user name, client address), for rate limiting across processes."""

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "name", "ip", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kbs: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.seq", passive_deletes=True
    )


class Message(Base):
    """One question and its answer."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    citations: Mapped[list[Any]] = mapped_column(default=list)  # [{n, title, article, quote, chunk_id, superseded, …}]
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"retrieve_ms": …, "answer_ms": …}
    elapsed_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Feedback(Base):
    """👍/👎 on one answer. The question, answer and citations are copied so a correction outlives the history."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating IN (-1, 1)", name="rating"),
        CheckConstraint("status IN ('new', 'accepted', 'rejected')", name="status"),
        UniqueConstraint("user_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    correct_answer: Mapped[str] = mapped_column(Text, default="")
    correct_article: Mapped[str] = mapped_column(Text, default="")
    keypoints: Mapped[list[Any]] = mapped_column(default=list)  # set by the reviewer for the eval set
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    citations: Mapped[list[Any]] = mapped_column(default=list)
    kbs: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: who did what, when. No foreign keys, so nothing ever rewrites a row (triggers refuse it)."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_name: Mapped[str] = mapped_column(String(64), default="", index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)  # ask | search | login | login_failed | user_add | …
    client: Mapped[str] = mapped_column(String(64), default="")  # api | ui | cli, plus the address
    question: Mapped[str] = mapped_column(Text, default="")
    kbs: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    citations: Mapped[list[Any]] = mapped_column(default=list)  # [{n, label, chunk_id}]
    elapsed_ms: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")


AUDIT_REFUSAL = "审计记录只能追加，不能修改或删除"
AUDIT_FIX = "需要更正时追加一条说明记录（AuditLog.append）"


def install_audit_guard(factory: sessionmaker) -> None:
    """Refuse, in code, any ORM update or delete of audit rows (the database's triggers refuse raw SQL too)."""

    @event.listens_for(factory, "before_flush")
    def _no_audit_changes(session: Session, _context, _instances) -> None:
        for obj in (*session.dirty, *session.deleted):
            if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
                raise AssistantError(AUDIT_REFUSAL, AUDIT_FIX)

    @event.listens_for(factory, "do_orm_execute")
    def _no_audit_bulk(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and any(m.class_ is AuditEntry for m in state.all_mappers):
            raise AssistantError(AUDIT_REFUSAL, AUDIT_FIX)
