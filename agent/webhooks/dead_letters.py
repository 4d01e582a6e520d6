"""Dead letters: outbox rows refused for good or past their retry budget, kept until an
operator resends (`retry`) or drops them (`python -m agent webhooks`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, or_, select, true, update

from ..clock import utc_now
from .outbox import Fate
from .schema import webhook_outbox

LISTED = ("id", "created_at", "rejected", "attempts", "url", "call_key", "seq", "event_type",
          "webhook_id", "last_error")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command acts on; unset fields do not narrow it."""

    row_id: int | None = None
    call: str | None = None
    """A call key (CALL_...) or LiveKit's call id (SCL_...)."""
    url_prefix: str | None = None
    since: datetime | None = None
    """Events at or after this time."""
    before: datetime | None = None
    """Events before this time."""

    def where(self) -> ColumnElement[bool]:
        c = webhook_outbox.c
        terms: list[ColumnElement[bool]] = [c.rejected != Fate.WAITING]
        if self.row_id is not None:
            terms.append(c.id == self.row_id)
        if self.call is not None:
            # The body is compact JSON (body.py): LiveKit's call id sits in it as written.
            by_id = c.body.contains(f'"call_id":"{self.call}",', autoescape=True)
            terms.append(or_(c.call_key == self.call, by_id))
        if self.url_prefix is not None:
            terms.append(c.url.startswith(self.url_prefix, autoescape=True))
        if self.since is not None:
            terms.append(c.created_at >= self.since)
        if self.before is not None:
            terms.append(c.created_at < self.before)
        return and_(true(), *terms)


class DeadLetters:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def listed(self, selection: Selection) -> list[dict[str, Any]]:
        """Oldest first, without their bodies."""
        columns = [webhook_outbox.c[name] for name in LISTED]
        query = select(*columns).where(selection.where()).order_by(webhook_outbox.c.id)
        with self.engine.connect() as db:
            return [dict(row) for row in db.execute(query).mappings()]

    def one(self, row_id: int) -> dict[str, Any] | None:
        """A dead letter with its body and the time its budget started again, if any."""
        query = select(webhook_outbox).where(Selection(row_id=row_id).where())
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        return dict(row) if row is not None else None

    def retry(self, selection: Selection) -> int:
        """Back to waiting, due now, with a whole retry budget again; how many."""
        now = utc_now()
        stmt = (
            update(webhook_outbox)
            .where(selection.where())
            .values(rejected=Fate.WAITING, attempts=0, next_attempt_at=now, retry_from=now)
        )
        with self.engine.begin() as db:
            return int(db.execute(stmt).rowcount)

    def drop(self, selection: Selection) -> int:
        """Deleted for good; how many."""
        with self.engine.begin() as db:
            return int(db.execute(delete(webhook_outbox).where(selection.where())).rowcount)
