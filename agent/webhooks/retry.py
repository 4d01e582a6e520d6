"""When to try a delivery again, and after how long."""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_DELAY_S = 600.0
# A Retry-After longer than this is read as a misconfigured endpoint, not a plan.
MAX_RETRY_AFTER_S = 3600.0


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"
    """A 4xx other than 429 (or a redirect): sending the same request again cannot help."""


def verdict(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 429 or status >= 500:
        return Verdict.RETRY
    return Verdict.REJECTED


def retry_after_s(header: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (it may be a number of seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return min(float(header), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def backoff_s(attempt: int, base_s: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (half fixed, half random, so a fleet recovering from
    one outage does not retry in lockstep); the endpoint's Retry-After wins when given."""
    if retry_after is not None:
        return retry_after
    delay = min(base_s * 2 ** max(attempt - 1, 0), MAX_DELAY_S)
    return float(delay / 2 + random.uniform(0, delay / 2))
