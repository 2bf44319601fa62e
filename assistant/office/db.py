"""Engines for the office database: SQLite beside the index by default, PostgreSQL by URL.

``resolve_url("", index_dir)`` gives ``sqlite:///<index_dir>/office.sqlite3``; a ``postgresql://`` URL is driven
by psycopg 3. SQLite gets foreign keys, WAL and a busy timeout so the web server's threads and a CLI command can
share one file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from assistant.core.errors import AssistantError

SQLITE_NAME = "office.sqlite3"


def utcnow() -> datetime:
    return datetime.now(UTC)


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def resolve_url(database_url: str, index_dir: str | Path) -> str:
    """The setting ``database_url`` as given, or the embedded SQLite file ``<index_dir>/office.sqlite3``."""
    url = (database_url or "").strip()
    return url if url else sqlite_url(Path(index_dir) / SQLITE_NAME)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3 (the installed driver); other URLs are kept."""
    text = url.strip()
    if not text:
        raise AssistantError(
            "数据库地址 database_url 为空", "不设置它（使用索引目录旁的 SQLite 文件），或给出 postgresql://用户:密码@主机/库名"
        )
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise AssistantError(
            f"数据库地址 database_url={hide_password(text)!r} 无法解析",
            "写成 sqlite:////绝对路径/office.sqlite3 或 postgresql://用户:密码@主机:5432/库名",
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise AssistantError(
            f"数据库地址 database_url 的类型 {backend!r} 不受支持",
            "只支持 SQLite（sqlite:///路径）和 PostgreSQL（postgresql://…）",
        )
    return parsed.render_as_string(hide_password=False)


def hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (see :func:`normalize_url`); a SQLite file's folder is created."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            folder = Path(db).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise AssistantError(
                    f"无法创建数据库文件所在的文件夹 {folder}（{e.strerror}）", "检查权限，或用 database_url 指定其他位置"
                ) from None
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if db and db != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """One engine, one session factory with the audit guard, and the clock every part of the office uses."""

    def __init__(self, url: str, clock: Callable[[], datetime] = utcnow) -> None:
        from assistant.office.models import install_audit_guard

        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.clock = clock
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        install_audit_guard(self.sessions)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the office clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
