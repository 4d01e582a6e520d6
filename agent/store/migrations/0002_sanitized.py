"""Which of a call's columns hold a value made to fit (NUL removed, cut to the column).

Revision ID: call_log_0002
Revises: call_log_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "call_log_0002"
down_revision = "call_log_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("sanitized", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("sanitized")
