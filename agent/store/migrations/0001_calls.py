"""The call log: one row per call and its event timeline.

Revision ID: call_log_0001
Revises:

A database made before the call log and the outbox had a chain each (one chain,
`alembic_version` at 0001 or 0002) already holds these tables: they are kept as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "call_log_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("calls"):
        return
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("twilio_call_sid", sa.String(64)),
        sa.Column("twilio_account_sid", sa.String(64)),
        sa.Column("telnyx_call_leg_id", sa.String(128)),
        sa.Column("telnyx_call_session_id", sa.String(128)),
        sa.Column("amazon_contact_id", sa.String(128)),
        sa.Column("providers", sa.Text, nullable=False),
        sa.Column("sip_call_id", sa.String(256)),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("from_number", sa.String(64)),
        sa.Column("to_number", sa.String(64)),
        sa.Column("trunk_id", sa.String(128)),
        sa.Column("rule_id", sa.String(128)),
        sa.Column("room", sa.String(256), nullable=False),
        sa.Column("identity", sa.String(256), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("custom", sa.Text, nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("ended_by", sa.String(16)),
        sa.Column("disconnect_reason", sa.String(64)),
        sa.Column("sip_status_code", sa.Integer),
        sa.Column("ringing_s", sa.Float),
        sa.Column("talk_s", sa.Float),
        sa.Column("duration_s", sa.Float),
        sa.Column("worker_id", sa.String(128)),
        sa.Column("job_id", sa.String(128)),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_calls_twilio_call_sid", "calls", ["twilio_call_sid"])
    op.create_index("ix_calls_trunk_id", "calls", ["trunk_id"])
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_table(
        "call_events",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_events")
    op.drop_table("calls")
