"""The call log's tables, as SQLAlchemy Core: the head of its migrations in `migrations/`.

Portable types only (SQLite and PostgreSQL): JSON documents are stored as text so both
databases hold the same bytes and the CLI prints them unchanged.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from ..database.migrate import Schema

CALL_LOG = Schema(
    name="call_log",
    versions=Path(__file__).parent / "migrations",
    version_table="sip_agent_call_log_version",
)

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("call_key", String(128), primary_key=True),
    Column("call_id", String(128), nullable=False, index=True),
    Column("twilio_call_sid", String(64), index=True),
    Column("twilio_account_sid", String(64)),
    Column("telnyx_call_leg_id", String(128)),
    Column("telnyx_call_session_id", String(128)),
    Column("amazon_contact_id", String(128)),
    Column("providers", Text, nullable=False, default="{}"),
    Column("sip_call_id", String(256)),
    Column("direction", String(16), nullable=False),
    Column("from_number", String(64)),
    Column("to_number", String(64)),
    Column("trunk_id", String(128), index=True),
    Column("rule_id", String(128)),
    Column("room", String(256), nullable=False),
    Column("identity", String(256), nullable=False),
    Column("headers", Text, nullable=False, default="{}"),
    Column("custom", Text, nullable=False, default="{}"),
    Column("status", String(32)),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("answered_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("outcome", String(16), index=True),
    Column("ended_by", String(16)),
    Column("disconnect_reason", String(64)),
    Column("sip_status_code", Integer),
    Column("ringing_s", Float),
    Column("talk_s", Float),
    Column("duration_s", Float),
    Column("worker_id", String(128)),
    Column("job_id", String(128)),
    Column("last_seq", Integer, nullable=False),
    # Columns whose value was made to fit (comma-separated); the timeline holds it whole.
    Column("sanitized", Text),
    # call.ended's health block (JSON), and the figures `calls list` filters on.
    Column("health", Text),
    Column("unhealthy", Boolean, index=True),
    Column("agent_missing", Boolean),
    Column("longest_silence_s", Float),
    Column("response_p95_s", Float),
)

call_events = Table(
    "call_events",
    metadata,
    Column("call_key", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
)
