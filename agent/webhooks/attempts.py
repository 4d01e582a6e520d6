"""The delivery log: one row per attempt, written where the sender learns the outcome.

Delivered rows leave the outbox; this log is what still says what was sent, when, and
the endpoint's answer (`calls show`). It holds the URL without credentials or query.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert

from ..clock import utc_now
from .outbox import Delivery
from .retry import Verdict
from .schema import webhook_deliveries

ANSWER_CHARS = 200


def record_attempt(
    engine: Engine, row: Delivery, where: str, status: int, outcome: Verdict, answer: str
) -> None:
    """Log one attempt of `row` to `where` (0 as `status`: no HTTP answer)."""
    with engine.begin() as db:
        db.execute(
            insert(webhook_deliveries).values(
                call_key=row.call_key,
                endpoint=where,
                webhook_id=row.webhook_id,
                seq=row.seq,
                event_type=row.event_type,
                at=utc_now(),
                status_code=status or None,
                outcome=outcome.value,
                # An error about the URL may quote it whole; the log keeps it without secrets.
                answer=answer.replace(row.url, where)[:ANSWER_CHARS],
            )
        )
