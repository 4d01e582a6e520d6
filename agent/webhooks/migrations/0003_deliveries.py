"""A log of delivery attempts, so `calls show` can say what was sent, when, and the answer
(delivered rows leave the outbox).

Revision ID: webhook_outbox_0003_deliveries
Revises: webhook_outbox_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "webhook_outbox_0003_deliveries"
down_revision = "webhook_outbox_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("call_key", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text),
    )
    op.create_index("ix_webhook_deliveries_call", "webhook_deliveries", ["call_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_call", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
