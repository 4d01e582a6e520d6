"""A call's deliveries grouped (kept in order, leased) by the worker's own call key, not
LiveKit's call id, which can repeat across calls.

Revision ID: webhook_outbox_0002
Revises: webhook_outbox_0001

Rows already queued keep their LiveKit call id as their key: they stay one group each.
"""

from __future__ import annotations

from alembic import op

revision = "webhook_outbox_0002"
down_revision = "webhook_outbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_webhook_outbox_pending", table_name="webhook_outbox")
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.alter_column("call_id", new_column_name="call_key")
    op.create_index(
        "ix_webhook_outbox_pending", "webhook_outbox", ["rejected", "url", "call_key", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_outbox_pending", table_name="webhook_outbox")
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.alter_column("call_key", new_column_name="call_id")
    op.create_index(
        "ix_webhook_outbox_pending", "webhook_outbox", ["rejected", "url", "call_id", "id"]
    )
