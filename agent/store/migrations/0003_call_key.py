"""Calls keyed by the worker's own call key: LiveKit's call id can repeat (a SIP participant
without `sip.callID` falls back to its identity, the same for the same caller's next call),
and two calls under one key were merged into one row and one timeline.

Revision ID: call_log_0003
Revises: call_log_0002

The tables are rebuilt (a primary key cannot change in place on SQLite): each existing call
keeps its LiveKit call id as its key, so its rows and timeline stay together.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "call_log_0003"
down_revision = "call_log_0002"
branch_labels = None
depends_on = None

_CALL_COLUMNS = (
    "call_id, twilio_call_sid, twilio_account_sid, telnyx_call_leg_id, telnyx_call_session_id, "
    "amazon_contact_id, providers, sip_call_id, direction, from_number, to_number, trunk_id, "
    "rule_id, room, identity, headers, custom, status, started_at, answered_at, ended_at, "
    "outcome, ended_by, disconnect_reason, sip_status_code, ringing_s, talk_s, duration_s, "
    "worker_id, job_id, last_seq, sanitized"
)


def upgrade() -> None:
    op.create_table(
        "calls_keyed",
        sa.Column("call_key", sa.String(128), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False),
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
        sa.Column("sanitized", sa.Text),
    )
    op.execute(
        f"INSERT INTO calls_keyed (call_key, {_CALL_COLUMNS}) "
        f"SELECT call_id, {_CALL_COLUMNS} FROM calls"
    )
    op.drop_table("calls")
    op.rename_table("calls_keyed", "calls")
    for column in ("call_id", "twilio_call_sid", "trunk_id", "started_at", "outcome"):
        op.create_index(f"ix_calls_{column}", "calls", [column])
    op.create_table(
        "call_events_keyed",
        sa.Column("call_key", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.execute(
        "INSERT INTO call_events_keyed (call_key, seq, type, at, data) "
        "SELECT call_id, seq, type, at, data FROM call_events"
    )
    op.drop_table("call_events")
    op.rename_table("call_events_keyed", "call_events")


def downgrade() -> None:
    raise NotImplementedError("calls keyed by LiveKit's call id would merge repeated ids")
