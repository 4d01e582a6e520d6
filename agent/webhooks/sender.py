"""The background sender: drains the outbox, signed, in per-call order, with retries.

One per process and database (`start_sender`), in a thread with its own event loop: it
outlives the jobs (each job has its own loop and ends), and job handlers only wake it.
It also polls, so rows queued by other processes, or left by a worker that was killed,
go out too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from standardwebhooks import Webhook

from .. import metrics
from ..clock import utc_now
from ..database.migrate import migrated_engine
from .attempts import record_attempt
from .outbox import Delivery, Fate, Outbox
from .pending import PENDING
from .retry import Verdict, backoff_s, retry_after_s, verdict
from .schema import OUTBOX

POLL_S = 1.0
LEASE_S = 30.0
REQUEST_TIMEOUT_S = 10.0
BASE_DELAY_S = 1.0
PARALLEL_CALLS = 16
BATCH = 64
RETRY_FOR_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SenderOptions:
    poll_s: float = POLL_S
    lease_s: float = LEASE_S
    """How long a killed sender's calls wait before another sender takes them over."""
    base_delay_s: float = BASE_DELAY_S
    timeout_s: float = REQUEST_TIMEOUT_S
    retry_for_s: float = RETRY_FOR_S
    """A delivery still failing this long after it was queued becomes a dead letter."""


def endpoint(url: str) -> str:
    """The URL without query or credentials, for logs (tokens often ride in query strings)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class Sender:
    def __init__(
        self, outbox: Outbox, secret: str, logger: Any, options: SenderOptions, name: str
    ) -> None:
        self._outbox = outbox
        self._name = name
        """The outbox's database URL, as `PENDING` counts its rows."""
        self._signer = Webhook(secret)
        self._log = logger
        self._options = options
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._failing: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="sip-agent-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New rows: look now instead of at the next poll (safe from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        # Endpoints are independent: each has its own share of parallel calls and its own
        # heads from the outbox, and no round waits for another endpoint's answers (a
        # receiver taking 30 s per answer must not hold up a healthy one).
        limits: dict[str, asyncio.Semaphore] = {}
        draining: dict[str, asyncio.Task[None]] = {}
        """One drain per (URL, call) at a time in this sender: two would send a call's
        events twice and out of order (the lease is the same owner's for both)."""
        async with aiohttp.ClientSession() as http:
            while not self._stop:
                self._wake.clear()
                try:
                    for url in await asyncio.to_thread(self._outbox.urls):
                        limit = limits.setdefault(url, asyncio.Semaphore(PARALLEL_CALLS))
                        for head in await asyncio.to_thread(self._outbox.due, BATCH, url):
                            if head.key not in draining:
                                draining[head.key] = self._spawn(http, limit, head, draining)
                    metrics.outbox_depth(await asyncio.to_thread(self._outbox.depth))
                    metrics.dead_letters(await asyncio.to_thread(self._outbox.dead_count))
                except Exception as exc:  # the database is down: warn, keep polling
                    self._log.warning("webhook outbox unreachable; retrying", error=str(exc))
                # Woken meanwhile: look again at once; else sleep until woken or the poll.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_s)
            # Stopping: a drain sends no further row; the ones mid-request end with it.
            if draining:
                await asyncio.wait(draining.values(), timeout=self._options.timeout_s)

    def _spawn(
        self,
        http: aiohttp.ClientSession,
        limit: asyncio.Semaphore,
        head: Delivery,
        draining: dict[str, asyncio.Task[None]],
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._drain(http, limit, head))

        def done(_: asyncio.Task[None]) -> None:
            draining.pop(head.key, None)
            if not task.cancelled() and task.exception() is not None:
                self._log.warning(
                    "webhook outbox unreachable; retrying", error=str(task.exception())
                )

        task.add_done_callback(done)
        return task

    async def _drain(
        self, http: aiohttp.ClientSession, limit: asyncio.Semaphore, head: Delivery
    ) -> None:
        """Send one (URL, call)'s due rows in order, under its lease."""
        outbox, key, owner = self._outbox, head.key, self._owner
        async with limit:
            if not await asyncio.to_thread(outbox.lease, key, owner, self._options.lease_s):
                return
            try:
                row: Delivery | None = head
                while row is not None and not self._stop:
                    if not await self._send(http, row):
                        return
                    row = await asyncio.to_thread(outbox.next_of, row.url, row.call_key)
                    if row is not None:
                        await asyncio.to_thread(outbox.lease, key, owner, self._options.lease_s)
            finally:
                await asyncio.to_thread(outbox.release, key, owner)

    async def _send(self, http: aiohttp.ClientSession, row: Delivery) -> bool:
        """One attempt; True when the call's next row may go (delivered or rejected)."""
        status, retry_after, error = await self._post(http, row)
        where = endpoint(row.url)
        outcome = verdict(status) if status else Verdict.RETRY
        await asyncio.to_thread(
            record_attempt, self._outbox.engine, row, where, status, outcome, error
        )
        if outcome is Verdict.DELIVERED:
            await asyncio.to_thread(self._outbox.delivered, row.id)
            PENDING.settled(self._name, row.call_key)
            metrics.delivery_succeeded()
            if row.url in self._failing:
                self._failing.discard(row.url)
                self._log.info("webhook endpoint delivering again", url=where)
            return True
        if outcome is Verdict.REJECTED:
            await self._dead(row, Fate.REFUSED, error)
            metrics.delivery_failed(f"http_{status}")
            self._log.warning(
                "webhook rejected by the endpoint; not retried",
                url=where,
                status=status,
                webhook_id=row.webhook_id,
                call_key=row.call_key,
                seq=row.seq,
                event_type=row.event_type,
                response=error,
                fix="fix the receiver (a 4xx other than 429 means it refuses this request), "
                "then: python -m agent webhooks retry --call CALL_KEY",
            )
            return True
        delay = backoff_s(row.attempts + 1, self._options.base_delay_s, retry_after)
        metrics.delivery_failed(_failure_reason(status))
        budget_end = row.budget_from + timedelta(seconds=self._options.retry_for_s)
        if utc_now() + timedelta(seconds=delay) > budget_end:
            await self._dead(row, Fate.GAVE_UP, error)
            self._log.warning(
                "webhook delivery failing past its retry budget; kept as a dead letter",
                url=where,
                status=status or None,
                error=error,
                webhook_id=row.webhook_id,
                call_key=row.call_key,
                seq=row.seq,
                attempts=row.attempts + 1,
                retry_for_s=self._options.retry_for_s,
                fix="fix the receiver, then: python -m agent webhooks retry --call CALL_KEY",
            )
            return True
        await asyncio.to_thread(self._outbox.retry_later, row.id, delay, error)
        if row.url not in self._failing:
            self._failing.add(row.url)
            self._log.warning(
                "webhook delivery failed; retrying with backoff",
                url=where,
                status=status or None,
                error=error,
                retry_in_s=round(delay, 3),
            )
        return False

    async def _dead(self, row: Delivery, fate: Fate, error: str) -> None:
        """No longer sent; the call's next row may go (a dead letter does not hold it up)."""
        await asyncio.to_thread(self._outbox.dead, row.id, fate, error)
        PENDING.settled(self._name, row.call_key)

    async def _post(
        self, http: aiohttp.ClientSession, row: Delivery
    ) -> tuple[int, float | None, str]:
        """(status or 0 on a network error, Retry-After seconds, what went wrong)."""
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "sip-agent",
            "webhook-id": row.webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": self._signer.sign(row.webhook_id, sent_at, row.body),
        }
        try:
            async with http.post(
                row.url,
                data=row.body.encode(),
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._options.timeout_s),
            ) as response:
                text = (await response.text(errors="replace"))[:200]
                after = retry_after_s(response.headers.get("Retry-After"))
                return response.status, after, f"HTTP {response.status}: {text}"
        except Exception as exc:  # network errors, timeouts, a URL aiohttp cannot use
            return 0, None, f"{type(exc).__name__}: {exc}"


def _failure_reason(status: int) -> str:
    if not status:
        return "network"
    return "http_5xx" if status >= 500 else f"http_{status}"


_senders: dict[tuple[str, str], Sender] = {}
_lock = threading.Lock()


def start_sender(
    db_url: str, secret: str, logger: Any, options: SenderOptions | None = None
) -> Sender:
    """This process's sender for `db_url` (started on first use)."""
    with _lock:
        sender = _senders.get((db_url, secret))
        if sender is None:
            outbox = Outbox(migrated_engine(db_url, OUTBOX))
            sender = Sender(outbox, secret, logger, options or SenderOptions(), db_url)
            sender.start()
            _senders[(db_url, secret)] = sender
        return sender


def stop_senders(senders: Sequence[Sender] | None = None) -> None:
    """Stop this process's senders (tests; a process exits without it: rows stay queued)."""
    with _lock:
        for sender in senders or list(_senders.values()):
            sender.stop()
        _senders.clear()
