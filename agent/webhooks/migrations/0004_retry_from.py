"""Where a delivery's retry budget starts: when it was queued, or when an operator last put
it back (`python -m agent webhooks retry`), so a resent dead letter gets a whole budget.

Rows queued before have none: their budget counts from their event's time.

Revision ID: webhook_outbox_0004
Revises: webhook_outbox_0003_deliveries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "webhook_outbox_0004"
down_revision = "webhook_outbox_0003_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.add_column(sa.Column("retry_from", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.drop_column("retry_from")
