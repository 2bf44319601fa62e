"""Alembic environment: runs on the connection handed over in ``config.attributes`` (see ``__init__.upgrade``)."""

from __future__ import annotations

from alembic import context

from assistant.office.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("run the office migrations through assistant.office.migrations.upgrade(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
