"""The fleet's tables, as SQLAlchemy Core: the head of its migrations in `migrations/`.

`fleet_workers`: one row per worker process, its heartbeat (`beat_at`). `fleet_call_claims`:
one row per live call, the worker holding it and what a live worker needs to resume it or
end it when that worker stops beating.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

from ..database.migrate import Schema

FLEET = Schema(
    name="fleet",
    versions=Path(__file__).parent / "migrations",
    version_table="sip_agent_fleet_version",
)

metadata = MetaData()

workers = Table(
    "fleet_workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("agent_name", String(255), nullable=False),
    Column("beat_at", DateTime(timezone=True), nullable=False),
)

call_claims = Table(
    "fleet_call_claims",
    metadata,
    Column("call_key", String(64), primary_key=True),
    Column("worker_id", String(64), nullable=False),
    Column("room", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("call_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("ended", Integer, nullable=False),
    # 1 once a live worker took the call over and dispatched itself to the room: the next
    # job for that room resumes it.
    Column("resuming", Integer, nullable=False),
    # The call's tracker state as JSON (`claims.state_json`).
    Column("state", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_fleet_call_claims_worker", "worker_id"),
    Index("ix_fleet_call_claims_room", "room"),
)
