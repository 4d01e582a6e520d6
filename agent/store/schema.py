"""The call log's tables, as SQLAlchemy Core: the head of the migrations in `migrations/`.

Portable types only (SQLite and PostgreSQL): JSON documents are stored as text so both
databases hold the same bytes and the CLI prints them unchanged.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("call_id", String(128), primary_key=True),
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
)

call_events = Table(
    "call_events",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    # Rows the endpoint refused for good (a 4xx other than 429) stay for inspection.
    Column("rejected", Integer, nullable=False, default=0),
    UniqueConstraint("webhook_id", "url", name="uq_webhook_outbox_delivery"),
    Index("ix_webhook_outbox_pending", "rejected", "url", "call_id", "id"),
)

webhook_leases = Table(
    "webhook_leases",
    metadata,
    # One sender at a time per (url, call): that is what keeps a call's events in order
    # when several processes or workers drain one outbox.
    Column("key", String(512), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)
