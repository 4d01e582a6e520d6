"""The durable outbox: one row per (event, URL) until the endpoint acknowledges it.

Order per call is kept by sending only the oldest waiting row of each (URL, call), and by
leases: one sender at a time per (URL, call), across threads, processes and workers.
A lease outlives a crashed sender by at most `lease_s`; then another sender resumes.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update

from ..clock import utc_now
from ..database.dialect import upsert, utc
from .schema import webhook_leases, webhook_outbox

Row = dict[str, Any]


class Fate(enum.IntEnum):
    """A row's `rejected` column: waiting, or a dead letter and why."""

    WAITING = 0
    REFUSED = 1
    """The endpoint answered a 4xx other than 429: the same request cannot succeed."""
    GAVE_UP = 2
    """Still failing past SIP_AGENT_WEBHOOK_RETRY_FOR_S."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One waiting row, as the sender needs it."""

    id: int
    webhook_id: str
    url: str
    call_key: str
    seq: int
    event_type: str
    body: str
    attempts: int
    budget_from: datetime
    """Where its retry budget started: queued, or the operator's last resend."""

    @property
    def key(self) -> str:
        return lease_key(self.url, self.call_key)


def lease_key(url: str, call_key: str) -> str:
    return hashlib.sha256(f"{url}\n{call_key}".encode()).hexdigest()


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = upsert(engine)
        self._waiting = webhook_outbox.c.rejected == Fate.WAITING

    def depth(self) -> int:
        """Rows still to deliver."""
        with self.engine.connect() as db:
            return int(db.execute(select(func.count()).where(self._waiting)).scalar_one())

    def dead_count(self) -> int:
        """Dead letters kept for the operator."""
        with self.engine.connect() as db:
            return int(db.execute(select(func.count()).where(~self._waiting)).scalar_one())

    def oldest(self) -> tuple[str, datetime] | None:
        """URL and event time of the first row still to deliver (by id: the PK, no scan of
        a timestamp column)."""
        query = (
            select(webhook_outbox.c.url, webhook_outbox.c.created_at)
            .where(self._waiting)
            .order_by(webhook_outbox.c.id)
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return (row.url, utc(row.created_at)) if row is not None else None

    def add(self, rows: Sequence[Row], limit: int) -> int:
        """Queue rows (an event already queued is not queued twice); returns how many were
        refused because the outbox holds `limit` rows."""
        if not rows:
            return 0
        with self.engine.begin() as db:
            depth = int(db.execute(select(func.count()).where(self._waiting)).scalar_one())
            room = max(limit - depth, 0)
            kept = rows[:room]
            if kept:
                stmt = self._insert(webhook_outbox).on_conflict_do_nothing()
                db.execute(stmt, [dict(r, attempts=0, rejected=0) for r in kept])
        return len(rows) - len(kept)

    def has_waiting(self, call_key: str) -> bool:
        """Whether any row of the call is still to deliver."""
        query = select(webhook_outbox.c.id).where(
            self._waiting, webhook_outbox.c.call_key == call_key
        )
        with self.engine.connect() as db:
            return db.execute(query.limit(1)).first() is not None

    def urls(self) -> list[str]:
        """The endpoints with rows still to deliver."""
        query = select(webhook_outbox.c.url).where(self._waiting).distinct()
        with self.engine.connect() as db:
            return list(db.execute(query).scalars())

    def due(self, limit: int, url: str) -> list[Delivery]:
        """The oldest waiting row of each of this URL's calls, where it is due."""
        heads = (
            select(func.min(webhook_outbox.c.id))
            .where(self._waiting, webhook_outbox.c.url == url)
            .group_by(webhook_outbox.c.call_key)
        )
        query = (
            select(webhook_outbox)
            .where(webhook_outbox.c.id.in_(heads))
            .where(webhook_outbox.c.next_attempt_at <= utc_now())
            .order_by(webhook_outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [_delivery(r) for r in db.execute(query).mappings()]

    def next_of(self, url: str, call_key: str) -> Delivery | None:
        """The oldest waiting row of this (URL, call) if it is due."""
        query = (
            select(webhook_outbox)
            .where(self._waiting)
            .where(webhook_outbox.c.url == url, webhook_outbox.c.call_key == call_key)
            .order_by(webhook_outbox.c.id)
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        if row is None or utc(row["next_attempt_at"]) > utc_now():
            return None
        return _delivery(row)

    def lease(self, key: str, owner: str, lease_s: float) -> bool:
        """Take or extend the lease on one (URL, call); False if another sender holds it."""
        now = utc_now()
        stmt = self._insert(webhook_leases).values(
            key=key, owner=owner, until=now + timedelta(seconds=lease_s)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[webhook_leases.c.key],
            set_={"owner": stmt.excluded.owner, "until": stmt.excluded.until},
            where=or_(webhook_leases.c.until < now, webhook_leases.c.owner == owner),
        )
        with self.engine.begin() as db:
            return bool(db.execute(stmt).rowcount)

    def release(self, key: str, owner: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                delete(webhook_leases).where(
                    and_(webhook_leases.c.key == key, webhook_leases.c.owner == owner)
                )
            )

    def delivered(self, row_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(delete(webhook_outbox).where(webhook_outbox.c.id == row_id))

    def retry_later(self, row_id: int, delay_s: float, error: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == row_id)
                .values(
                    attempts=webhook_outbox.c.attempts + 1,
                    next_attempt_at=utc_now() + timedelta(seconds=delay_s),
                    last_error=error,
                )
            )

    def dead(self, row_id: int, fate: Fate, error: str) -> None:
        """A dead letter: kept for the operator (`python -m agent webhooks`), no longer sent."""
        with self.engine.begin() as db:
            db.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == row_id)
                .values(attempts=webhook_outbox.c.attempts + 1, rejected=fate, last_error=error)
            )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        url=row["url"],
        call_key=row["call_key"],
        seq=row["seq"],
        event_type=row["event_type"],
        body=row["body"],
        attempts=row["attempts"],
        budget_from=utc(row["retry_from"] or row["created_at"]),
    )
