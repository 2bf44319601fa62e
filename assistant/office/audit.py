"""The audit log: who asked what, when, from which knowledge bases, and what was cited. Append-only.

Nothing here updates or deletes a row: the ORM session refuses it (models.install_audit_guard) and the database's
triggers refuse raw SQL (SQLite and PostgreSQL, created by the initial migration). Statistics for admins are
read from it: questions per day, refusal rate, top questions, top refused questions, slowest answers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from assistant.core.errors import AssistantError
from assistant.office.accounts import UserInfo
from assistant.office.db import Database
from assistant.office.models import AuditEntry

QUESTION_ACTIONS = ("ask",)  # audit actions that are questions (counted by the statistics)
REFUSED = ("related", "none")
CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "user_name",
    "action",
    "client",
    "question",
    "kbs",
    "outcome",
    "citations",
    "elapsed_ms",
    "detail",
)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    user_id: int | None
    user_name: str
    action: str
    client: str
    question: str
    kbs: tuple[str, ...]
    outcome: str
    citations: tuple[Mapping[str, Any], ...]
    elapsed_ms: float | None
    detail: str


@dataclass(frozen=True)
class DayCount:
    day: date
    questions: int
    refused: int


@dataclass(frozen=True)
class RefusalRate:
    questions: int
    refused: int

    @property
    def rate(self) -> float:
        return self.refused / self.questions if self.questions else 0.0


@dataclass(frozen=True)
class QuestionCount:
    question: str
    count: int
    refused: int


@dataclass(frozen=True)
class SlowAnswer:
    id: int
    at: datetime
    user_name: str
    question: str
    outcome: str
    elapsed_ms: float


def _record(e: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=e.id,
        at=e.at,
        user_id=e.user_id,
        user_name=e.user_name,
        action=e.action,
        client=e.client,
        question=e.question,
        kbs=tuple(e.kbs or ()),
        outcome=e.outcome,
        citations=tuple(e.citations or ()),
        elapsed_ms=e.elapsed_ms,
        detail=e.detail,
    )


def _citation_summary(c: Any) -> dict[str, Any]:
    """What the audit keeps of a citation: its number, label and chunk id (the quote is in the history)."""
    d = c.as_dict() if hasattr(c, "as_dict") else dict(c)
    label = getattr(c, "label", "") or d.get("label") or f"《{d.get('title', '')}》{d.get('article', '')}"
    return {"n": d.get("n"), "label": label, "chunk_id": d.get("chunk_id", ""), "kb": d.get("kb", "")}


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        action: str,
        user: UserInfo | None = None,
        *,
        user_name: str = "",
        client: str = "",
        question: str = "",
        kbs: Iterable[str] = (),
        outcome: str = "",
        citations: Iterable[Any] = (),
        elapsed_ms: float | None = None,
        detail: str = "",
    ) -> AuditRecord:
        action = (action or "").strip()
        if not action:
            raise AssistantError("审计记录缺少动作名称 action", "例如 ask、search、login")
        with self.db.begin() as s:
            entry = AuditEntry(
                at=self.db.now(),
                user_id=user.id if user else None,
                user_name=(user.name if user else user_name)[:64],
                action=action[:32],
                client=(client or "")[:64],
                question=question or "",
                kbs=list(kbs),
                outcome=outcome or "",
                citations=[_citation_summary(c) for c in citations],
                elapsed_ms=None if elapsed_ms is None else round(float(elapsed_ms), 3),
                detail=detail or "",
            )
            s.add(entry)
            s.flush()
            return _record(entry)

    def _filtered(self, stmt: Select, since: datetime | None, until: datetime | None) -> Select:
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        if until is not None:
            stmt = stmt.where(AuditEntry.at < until)
        return stmt

    def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user_name: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Entries oldest first (``limit``: the latest ``limit`` of them, still oldest first)."""
        stmt = self._filtered(select(AuditEntry), since, until)
        if user_name is not None:
            stmt = stmt.where(AuditEntry.user_name == user_name)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        with self.db.begin() as s:
            if limit is not None:
                rows = list(s.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
                rows.reverse()
            else:
                rows = list(s.scalars(stmt.order_by(AuditEntry.id)))
            return [_record(e) for e in rows]

    def write_csv(self, out: IO[str], *, since: datetime | None = None, until: datetime | None = None) -> int:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        n = 0
        stmt = self._filtered(select(AuditEntry), since, until).order_by(AuditEntry.id).execution_options(yield_per=500)
        with self.db.begin() as s:
            for e in s.scalars(stmt):
                r = _record(e)
                writer.writerow(
                    [
                        r.id,
                        r.at.isoformat(),
                        "" if r.user_id is None else r.user_id,
                        r.user_name,
                        r.action,
                        r.client,
                        r.question,
                        "、".join(r.kbs),
                        r.outcome,
                        json.dumps(list(r.citations), ensure_ascii=False),
                        "" if r.elapsed_ms is None else r.elapsed_ms,
                        r.detail,
                    ]
                )
                n += 1
        return n

    def export_csv(self, path: str | Path, *, since: datetime | None = None, until: datetime | None = None) -> int:
        """Write the log as CSV (UTF-8 with BOM, so Excel shows the Chinese); returns the number of entries."""
        path = Path(path)
        buf = io.StringIO()
        n = self.write_csv(buf, since=since, until=until)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")
        except OSError as e:
            raise AssistantError(f"无法写入 {path}（{e.strerror}）", "换一个可写的位置或文件名") from None
        return n

    # ------------------------------------------------------------------ statistics

    def _questions(self) -> ColumnElement[bool]:
        return AuditEntry.action.in_(QUESTION_ACTIONS)

    def _refused(self) -> Any:
        return func.sum(case((AuditEntry.outcome.in_(REFUSED), 1), else_=0))

    def _day(self, utc_offset_hours: int) -> Any:
        if self.db.dialect == "postgresql":
            local = func.timezone("UTC", AuditEntry.at) + func.make_interval(0, 0, 0, 0, utc_offset_hours)
            return func.to_char(local, "YYYY-MM-DD")
        return func.date(AuditEntry.at, f"{utc_offset_hours:+d} hours")

    def questions_per_day(
        self, *, since: datetime | None = None, until: datetime | None = None, utc_offset_hours: int = 0
    ) -> list[DayCount]:
        """Questions and refusals per calendar day (days in UTC+``utc_offset_hours``, e.g. 8 for Beijing time)."""
        day = self._day(utc_offset_hours).label("day")
        stmt = self._filtered(select(day, func.count(AuditEntry.id), self._refused()), since, until)
        stmt = stmt.where(self._questions()).group_by(day).order_by(day)
        with self.db.begin() as s:
            return [DayCount(date.fromisoformat(str(d)), int(n), int(r or 0)) for d, n, r in s.execute(stmt)]

    def refusal_rate(self, *, since: datetime | None = None, until: datetime | None = None) -> RefusalRate:
        """Share of questions that got no cited answer (outcome related or none)."""
        stmt = self._filtered(select(func.count(AuditEntry.id), self._refused()), since, until).where(self._questions())
        with self.db.begin() as s:
            n, r = s.execute(stmt).one()
            return RefusalRate(int(n or 0), int(r or 0))

    def top_questions(
        self, n: int = 10, *, refused_only: bool = False, since: datetime | None = None, until: datetime | None = None
    ) -> list[QuestionCount]:
        """The most asked questions (same text), most first; ``refused_only`` counts refused askings only."""
        count = func.count(AuditEntry.id).label("n")
        stmt = self._filtered(select(AuditEntry.question, count, self._refused()), since, until).where(self._questions())
        if refused_only:
            stmt = stmt.where(AuditEntry.outcome.in_(REFUSED))
        stmt = stmt.group_by(AuditEntry.question).order_by(count.desc(), AuditEntry.question).limit(n)
        with self.db.begin() as s:
            return [QuestionCount(q, int(c), int(r or 0)) for q, c, r in s.execute(stmt)]

    def top_refused(self, n: int = 10, *, since: datetime | None = None, until: datetime | None = None) -> list[QuestionCount]:
        return self.top_questions(n, refused_only=True, since=since, until=until)

    def slowest(self, n: int = 10, *, since: datetime | None = None, until: datetime | None = None) -> list[SlowAnswer]:
        stmt = self._filtered(select(AuditEntry), since, until).where(self._questions(), AuditEntry.elapsed_ms.is_not(None))
        stmt = stmt.order_by(AuditEntry.elapsed_ms.desc(), AuditEntry.id).limit(n)
        with self.db.begin() as s:
            return [SlowAnswer(e.id, e.at, e.user_name, e.question, e.outcome, float(e.elapsed_ms or 0)) for e in s.scalars(stmt)]
