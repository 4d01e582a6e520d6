"""Each call's health (call.ended's `health` block): the block as JSON, and the figures
`calls list` filters on as columns of their own.

Revision ID: call_log_0004
Revises: call_log_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "call_log_0004"
down_revision = "call_log_0003"
branch_labels = None
depends_on = None

_COLUMNS = ("health", "unhealthy", "agent_missing", "longest_silence_s", "response_p95_s")


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("health", sa.Text))
        batch.add_column(sa.Column("unhealthy", sa.Boolean))
        batch.add_column(sa.Column("agent_missing", sa.Boolean))
        batch.add_column(sa.Column("longest_silence_s", sa.Float))
        batch.add_column(sa.Column("response_p95_s", sa.Float))
    op.create_index("ix_calls_unhealthy", "calls", ["unhealthy"])


def downgrade() -> None:
    op.drop_index("ix_calls_unhealthy", "calls")
    with op.batch_alter_table("calls") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
