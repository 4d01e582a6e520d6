"""What SQLite and PostgreSQL spell differently, for the parts that write to either."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite


def upsert(engine: Engine) -> Callable[..., Any]:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    insert: Callable[..., Any] = (
        postgresql.insert if engine.url.get_backend_name() == "postgresql" else sqlite.insert
    )
    return insert


def utc(at: datetime) -> datetime:
    """SQLite keeps no zone: everything is written in UTC and read back as UTC."""
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
