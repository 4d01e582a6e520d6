"""Alembic's environment, shared by every part: always run from `agent.database.migrate`,
on the connection it passes, with the part's own version table."""

from __future__ import annotations

from alembic import context

attributes = context.config.attributes
context.configure(
    connection=attributes["connection"],
    version_table=attributes["version_table"],
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
