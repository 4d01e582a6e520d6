"""The call log's API: write events, find a call, list and export calls.

Blocking (SQLAlchemy Core): the handler calls it from a thread, the CLI directly. Every
write is one short transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, or_, select

from ..database.dialect import upsert, utc
from ..database.migrate import migrated_engine
from ..privacy import mask_number
from .records import SNAPSHOT_COLUMNS, EventRecord
from .schema import CALL_LOG, call_events, calls

Row = dict[str, Any]
LONGEST_CALL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class CallQuery:
    """Filters of `calls list` and `calls export`; None means any."""

    since: datetime | None = None
    status: str | None = None
    outcome: str | None = None
    number: str | None = None
    trunk: str | None = None
    limit: int | None = 50
    unhealthy: bool = False
    """Agent missing, a silence over SIP_AGENT_SILENCE_S or a slow response (as stored)."""
    agent_missing: bool = False
    silence_over_s: float | None = None
    p95_over_s: float | None = None


def _fix_zone(row: Row) -> Row:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


class CallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = upsert(engine)
        self._statements: dict[tuple[str, ...], Any] = {}

    @classmethod
    def open(cls, url: str) -> CallStore:
        """The store at `url` (`SIP_AGENT_DB_URL`), migrated to the current schema."""
        return cls(migrated_engine(url, CALL_LOG))

    def write(self, records: Sequence[EventRecord]) -> None:
        """Apply events in order, idempotently: a retried event changes nothing twice."""
        add_event = self._insert(call_events).on_conflict_do_nothing()
        with self.engine.begin() as db:
            for record in records:
                db.execute(add_event, record.event)
                db.execute(self._upsert_call(record), record.call)

    def _upsert_call(self, record: EventRecord) -> Any:
        """INSERT … ON CONFLICT UPDATE of the columns this event knows, built once per shape
        (building SQLAlchemy statements costs more than SQLite takes to run them)."""
        columns = tuple(
            k
            for k, v in record.call.items()
            if k in SNAPSHOT_COLUMNS or (k not in ("call_key", "started_at") and v is not None)
        )
        stmt = self._statements.get(columns)
        if stmt is None:
            insert = self._insert(calls)
            stmt = self._statements[columns] = insert.on_conflict_do_update(
                index_elements=[calls.c.call_key],
                set_={k: insert.excluded[k] for k in columns},
                # An older event (a retry after a newer one) must not roll the row back.
                where=calls.c.last_seq < insert.excluded.last_seq,
            )
        return stmt

    def find(self, key: str) -> Row | None:
        """A call by its call key (`CALL_…`), LiveKit call id (`SCL_…`) or Twilio CallSid
        (`CA…`); the latest call when a LiveKit id repeats."""
        query = select(calls).where(
            or_(calls.c.call_key == key, calls.c.call_id == key, calls.c.twilio_call_sid == key)
        )
        with self.engine.connect() as db:
            row = db.execute(query.order_by(calls.c.started_at.desc()).limit(1)).mappings().first()
        return _fix_zone(dict(row)) if row else None

    def timeline(self, key: str) -> list[Row]:
        """The events of the call `find(key)` finds, in order."""
        call = self.find(key)
        if call is None:
            return []
        query = select(call_events).where(call_events.c.call_key == call["call_key"])
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(call_events.c.seq)).mappings().all()
        return [_fix_zone(dict(r)) for r in rows]

    def calls(self, query: CallQuery) -> Iterator[Row]:
        """Calls matching `query`, newest first."""
        with self.engine.connect() as db:
            for row in db.execute(_select(query)).mappings():
                yield _fix_zone(dict(row))

    def current(self, since: datetime) -> list[Row]:
        """Calls started or ended since `since`, and calls not ended: what `calls tail`
        compares from one look to the next. Only calls started within `LONGEST_CALL`
        before `since`, so the started_at index bounds the scan."""
        at = utc(since)
        query = select(calls).where(
            calls.c.started_at >= at - LONGEST_CALL,
            or_(calls.c.started_at >= at, calls.c.ended_at.is_(None), calls.c.ended_at >= at),
        )
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(calls.c.started_at, calls.c.call_key)).mappings()
            return [_fix_zone(dict(r)) for r in rows]


def _select(query: CallQuery) -> Select[Any]:
    stmt = select(calls).order_by(calls.c.started_at.desc(), calls.c.call_key)
    if query.since is not None:
        stmt = stmt.where(calls.c.started_at >= utc(query.since))
    if query.status is not None:
        stmt = stmt.where(calls.c.status == query.status)
    if query.outcome is not None:
        stmt = stmt.where(calls.c.outcome == query.outcome)
    if query.trunk is not None:
        stmt = stmt.where(calls.c.trunk_id == query.trunk)
    if query.unhealthy:
        stmt = stmt.where(calls.c.unhealthy.is_(True))
    if query.agent_missing:
        stmt = stmt.where(calls.c.agent_missing.is_(True))
    if query.silence_over_s is not None:
        stmt = stmt.where(calls.c.longest_silence_s > query.silence_over_s)
    if query.p95_over_s is not None:
        stmt = stmt.where(calls.c.response_p95_s > query.p95_over_s)
    if query.number is not None:
        # Stored numbers may be masked: match the number as given or as it was masked.
        forms = {query.number, mask_number(query.number)}
        stmt = stmt.where(or_(calls.c.from_number.in_(forms), calls.c.to_number.in_(forms)))
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    return stmt
