"""Alembic migrations of the office database, run from code: ``upgrade(url)`` at startup, no alembic.ini.

A developer adds a revision with the models changed and this folder as script location, e.g.
``python -c "from assistant.office.migrations import revision; revision('sqlite:////tmp/x.sqlite3', 'add …')"``
(after upgrading that database to head), then reads and edits the generated file.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from assistant.office.db import make_engine

HERE = Path(__file__).resolve().parent


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head() or ""


def current(engine: Engine) -> str:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() or ""


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Bring the database at ``target`` (a URL or an engine) up to ``revision``; a database at head is left alone."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as conn:
            command.upgrade(config(conn), revision)
    finally:
        if isinstance(target, str):
            engine.dispose()


def downgrade(target: str | Engine, revision: str) -> None:
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as conn:
            command.downgrade(config(conn), revision)
    finally:
        if isinstance(target, str):
            engine.dispose()


def revision(url: str, message: str) -> None:  # pragma: no cover - a developer tool
    engine = make_engine(url)
    with engine.begin() as conn:
        command.revision(config(conn), message=message, autogenerate=True)
    engine.dispose()
