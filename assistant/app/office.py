"""Office facade: the faces' way to accounts, history, feedback and audit (assistant.office), and the use cases
that join them with the assistant: which knowledge bases a user may ask, one service per knowledge base, and every
answer saved to the user's history and written to the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from assistant.app.service import AssistantService
from assistant.core.settings import Settings
from assistant.core.types import Answer, Citation
from assistant.index.store import list_kbs
from assistant.office import (
    CitationRecord,
    ConversationDetail,
    ConversationInfo,
    FeedbackInfo,
    Office,
    SearchHit,
    Turn,
    UserInfo,
)
from assistant.office.accounts import KEY_PREFIX, LoginThrottled
from assistant.office.db import hide_password
from assistant.office.history import to_docx, to_markdown

__all__ = [
    "KEY_PREFIX",
    "CitationRecord",
    "ConversationDetail",
    "ConversationInfo",
    "FeedbackInfo",
    "LoginThrottled",
    "Office",
    "SearchHit",
    "Services",
    "Turn",
    "UserInfo",
    "citation_record",
    "hide_password",
    "knowledge_bases",
    "open_office",
    "record_answer",
    "record_failure",
    "to_docx",
    "to_markdown",
]


def open_office(settings: Settings) -> Office:
    """The office database of these settings (``database_url``, else ``<index_dir>/office.sqlite3``), at the
    latest schema."""
    return Office.open(settings.database_url, settings.index_dir)


def knowledge_bases(settings: Settings) -> list[str]:
    """The knowledge bases with a live index in ``settings.index_dir``."""
    return list_kbs(settings.index_dir)


def citation_record(c: Citation, kb: str) -> CitationRecord:
    ch = c.chunk
    return CitationRecord(c.n, ch.title, ch.article, c.quote, ch.id, ch.superseded, ch.version, ch.source, kb)


class Services:
    """One AssistantService per knowledge base, built on first use from the same settings with ``kb`` changed."""

    def __init__(self, settings: Settings, build: Callable[[Settings], AssistantService] | None = None) -> None:
        self.settings = settings
        self._build = build
        self._services: dict[str, AssistantService] = {}
        self._lock = threading.Lock()

    def knowledge_bases(self) -> list[str]:
        return knowledge_bases(self.settings)

    def get(self, kb: str) -> AssistantService:
        with self._lock:
            if kb not in self._services:
                if self._build is None:
                    from assistant.app.compose import build

                    self._build = build
                self._services[kb] = self._build(self.settings.model_copy(update={"kb": kb}))
            return self._services[kb]

    def add(self, service: AssistantService) -> None:
        with self._lock:
            self._services[service.settings.kb] = service


def record_answer(
    office: Office,
    user: UserInfo,
    kb: str,
    question: str,
    answer: Answer,
    elapsed_ms: float,
    *,
    client: str = "",
    conversation_id: int | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[Turn, tuple[CitationRecord, ...]]:
    """Save the turn to the user's history (a new conversation unless ``conversation_id``) and audit the question."""
    records = tuple(citation_record(c, kb) for c in answer.citations)
    turn = office.history.save_turn(
        user, question, answer.text, answer.outcome, records,
        conversation_id=conversation_id, kbs=[kb], timings=timings or {"total_ms": elapsed_ms}, elapsed_ms=elapsed_ms,
    )  # fmt: skip
    office.audit.append(
        "ask", user, client=client, question=question, kbs=[kb], outcome=answer.outcome, citations=records,
        elapsed_ms=elapsed_ms, detail=f"conversation {turn.conversation_id} message {turn.id}",
    )  # fmt: skip
    return turn, records


def record_failure(office: Office, user: UserInfo, kb: str, question: str, error: Exception, elapsed_ms: float, *, client: str = "") -> None:
    """Audit a question that got no answer (the error's one line is kept)."""
    office.audit.append(
        "ask", user, client=client, question=question, kbs=[kb], outcome="error", elapsed_ms=elapsed_ms, detail=str(error)[:2000]
    )

