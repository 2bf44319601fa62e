"""The office server's records: accounts and roles, conversation history, feedback and the audit log.

One database: SQLite beside the index by default (``<index_dir>/office.sqlite3``), PostgreSQL by URL. The schema is
kept by Alembic revisions run at startup (``Office(url)`` upgrades to head). The public API returns frozen
dataclasses, never ORM objects; user-facing errors are ``AssistantError`` in Chinese naming the value and the fix.

    office = Office.open(settings.database_url, settings.index_dir)
    user = office.accounts.add("张三", "一句够长的密码", role="reader")
    office.accounts.grant("张三", "default")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.office.accounts import Accounts, ApiKeyInfo, Grant, LoginResult, NewApiKey, UserInfo
from assistant.office.audit import AuditLog, AuditRecord, DayCount, QuestionCount, RefusalRate, SlowAnswer
from assistant.office.db import Database, resolve_url, utcnow
from assistant.office.feedback import FeedbackBook, FeedbackInfo, eval_item, parse_articles
from assistant.office.history import CitationRecord, ConversationDetail, ConversationInfo, History, SearchHit, Turn

__all__ = [
    "Accounts",
    "ApiKeyInfo",
    "AuditLog",
    "AuditRecord",
    "CitationRecord",
    "ConversationDetail",
    "ConversationInfo",
    "DayCount",
    "FeedbackBook",
    "FeedbackInfo",
    "Grant",
    "History",
    "LoginResult",
    "NewApiKey",
    "Office",
    "QuestionCount",
    "RefusalRate",
    "SearchHit",
    "SlowAnswer",
    "Turn",
    "UserInfo",
    "eval_item",
    "parse_articles",
    "resolve_url",
]


class Office:
    """Accounts, history, feedback and audit over one database (upgraded to the latest schema on opening)."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utcnow, migrate: bool = True, **account_options: Any) -> None:
        self.db = Database(url, clock)
        if migrate:
            from assistant.office.migrations import upgrade

            upgrade(self.db.engine)
        self.accounts = Accounts(self.db, **account_options)
        self.history = History(self.db)
        self.feedback = FeedbackBook(self.db)
        self.audit = AuditLog(self.db)

    @classmethod
    def open(cls, database_url: str, index_dir: str | Path, **options: Any) -> Office:
        """The setting ``database_url``, or the SQLite file ``<index_dir>/office.sqlite3`` when it is empty."""
        return cls(resolve_url(database_url, index_dir), **options)

    @property
    def url(self) -> str:
        return self.db.url

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Office:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
