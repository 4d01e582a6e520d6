"""A call's webhooks as `calls show` prints them: per endpoint and event, sent or not,
when, and the endpoint's answer (from the delivery log and the rows still in the outbox)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from ..database.dialect import utc
from ..database.migrate import migrated_engine
from .schema import OUTBOX, webhook_deliveries, webhook_outbox
from .sender import endpoint


class DeliveryState(enum.StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    """Tried and not acknowledged: it will be tried again."""
    WAITING = "waiting"
    """Queued, not tried yet."""
    DEAD = "dead"
    """Refused by the endpoint for good: not sent again."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    endpoint: str
    seq: int
    event_type: str
    state: DeliveryState
    attempts: int
    at: datetime | None
    """The last attempt."""
    answer: str | None
    """The last attempt's answer (`HTTP 200: …`) or network error."""


_LOGGED_STATE = {
    "delivered": DeliveryState.DELIVERED,
    "rejected": DeliveryState.DEAD,
    "retry": DeliveryState.FAILED,
}


def call_deliveries(db_url: str, call_key: str) -> list[DeliveryReport]:
    """The webhooks of one call (by its call key), by endpoint and seq."""
    return deliveries_in(migrated_engine(db_url, OUTBOX), call_key)


def deliveries_in(engine: Engine, call_key: str) -> list[DeliveryReport]:
    log = select(webhook_deliveries).where(webhook_deliveries.c.call_key == call_key)
    queued = select(webhook_outbox).where(webhook_outbox.c.call_key == call_key)
    with engine.connect() as db:
        attempts = db.execute(log.order_by(webhook_deliveries.c.id)).mappings().all()
        waiting = db.execute(queued).mappings().all()
    reports: dict[tuple[str, str], DeliveryReport] = {}
    tries: dict[tuple[str, str], int] = {}
    for a in attempts:
        key = (a["endpoint"], a["webhook_id"])
        tries[key] = tries.get(key, 0) + 1
        reports[key] = DeliveryReport(
            a["endpoint"],
            a["seq"],
            a["event_type"],
            _LOGGED_STATE[a["outcome"]],
            tries[key],
            utc(a["at"]),
            a["answer"],
        )
    for row in waiting:
        where = endpoint(row["url"])
        key = (where, row["webhook_id"])
        state = (
            DeliveryState.DEAD
            if row["rejected"]
            else DeliveryState.FAILED
            if row["attempts"]
            else DeliveryState.WAITING
        )
        last = reports.get(key)
        answer = last.answer if last else row["last_error"]
        reports[key] = DeliveryReport(
            where,
            row["seq"],
            row["event_type"],
            state,
            row["attempts"],
            last.at if last else None,
            answer,
        )
    return sorted(reports.values(), key=lambda r: (r.endpoint, r.seq))
