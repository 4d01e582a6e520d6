"""The webhook outbox's tables, as SQLAlchemy Core: the head of its migrations in
`migrations/`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..database.migrate import Schema

OUTBOX = Schema(
    name="webhook_outbox",
    versions=Path(__file__).parent / "migrations",
    version_table="sip_agent_webhook_outbox_version",
)

metadata = MetaData()

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("call_key", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    # 0: to deliver; else a dead letter, kept until resent or dropped (`Fate` in outbox.py).
    Column("rejected", Integer, nullable=False, default=0),
    # Where the retry budget starts: queued, or resent by an operator (a whole budget again).
    Column("retry_from", DateTime(timezone=True)),
    UniqueConstraint("webhook_id", "url", name="uq_webhook_outbox_delivery"),
    Index("ix_webhook_outbox_pending", "rejected", "url", "call_key", "id"),
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

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # One row per attempt, kept after the outbox row is gone: what `calls show` reads.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("call_key", String(128), nullable=False),
    Column("endpoint", Text, nullable=False),  # the URL without credentials or query
    Column("webhook_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),  # None: no HTTP answer (network error, timeout)
    Column("outcome", String(16), nullable=False),  # delivered, rejected or retry
    Column("answer", Text),
    Index("ix_webhook_deliveries_call", "call_key", "id"),
)
