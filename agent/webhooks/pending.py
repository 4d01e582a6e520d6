"""Rows this process queued that its senders have not yet delivered or rejected, per
outbox and call.

The handler counts a call's rows in when it queues them, the sender of that outbox counts
them out when the endpoint took or refused them. The handler keeps a call on one outbox
while it has rows in flight there (two outboxes sending one call's rows at once would break
its order), and `simulate` waits until nothing is in flight. Rows another process's sender
delivered are never counted out here: the call then stays where it is (safe).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Collection

SETTLE_POLL_S = 0.05


class Pending:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: Counter[tuple[str, str]] = Counter()

    def queued(self, outbox: str, call_key: str, rows: int) -> None:
        with self._lock:
            self._rows[(outbox, call_key)] += rows

    def settled(self, outbox: str, call_key: str, rows: int = 1) -> None:
        """`rows` of the call no longer in flight (never below none: a row queued by
        another process, or before a restart, was never counted in)."""
        with self._lock:
            left = self._rows[(outbox, call_key)] - rows
            if left > 0:
                self._rows[(outbox, call_key)] = left
            else:
                self._rows.pop((outbox, call_key), None)

    def of(self, outbox: str, call_key: str) -> int:
        with self._lock:
            return self._rows.get((outbox, call_key), 0)

    def of_calls(self, outboxes: Collection[str], calls: Collection[str]) -> dict[str, int]:
        """Rows of `calls` in flight per outbox of `outboxes`, the empty ones left out."""
        with self._lock:
            totals: Counter[str] = Counter()
            for (outbox, call), rows in self._rows.items():
                if outbox in outboxes and call in calls:
                    totals[outbox] += rows
            return dict(totals)

    async def settle(
        self, outboxes: Collection[str], calls: Collection[str], timeout_s: float
    ) -> dict[str, int]:
        """Wait until no row of `calls` is in flight in `outboxes`, at most `timeout_s`;
        what is left, per outbox."""
        deadline = time.monotonic() + timeout_s
        while (left := self.of_calls(outboxes, calls)) and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_POLL_S)
        return left


PENDING = Pending()
"""The process's one count: handlers of every job and every sender thread share it."""
