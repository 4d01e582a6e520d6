"""The `webhook` handler: each event into the durable outbox; the sender does the rest."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from standardwebhooks import Webhook

from ..clock import utc_now
from ..database.buffer import SpooledWriter, first_line, keep_draining
from ..database.dialect import utc
from ..database.fit import fit_row
from ..database.migrate import migrated_engine
from ..database.probe import DatabaseCheck
from ..database.spool import Spool
from ..errors import ConfigError
from ..events import CallEvent
from ..logs import make_logger
from ..redaction import redacted_event
from ..settings import Settings
from .body import webhook_body, webhook_id
from .local import local_outbox_path, local_outbox_url, shared_database
from .outbox import Outbox, Row
from .pending import PENDING
from .schema import OUTBOX, webhook_outbox
from .sender import SenderOptions, start_sender

# An event still waiting this long means deliveries have stopped, not a slow endpoint:
# several times the longest Retry-After honoured (1 h) and the backoff cap (10 min).
STALE_AFTER = timedelta(hours=6)

GENERATE_SECRET = (
    "python -c \"import base64,os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\""
)


def check_settings(settings: Settings) -> str:
    """The signing secret, once there are URLs (each was checked as the settings loaded)
    and the secret is usable."""
    if not settings.webhook_urls:
        raise ConfigError(
            "missing setting SIP_AGENT_WEBHOOK_URLS: the webhook handler needs at least one URL"
        )
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        msg = f"missing setting SIP_AGENT_WEBHOOK_SECRET: generate one with {GENERATE_SECRET}"
        raise ConfigError(msg)
    try:
        Webhook(secret)
    except Exception:
        msg = (
            "invalid setting SIP_AGENT_WEBHOOK_SECRET: expected whsec_<base64>, "
            f"make one with {GENERATE_SECRET}"
        )
        raise ConfigError(msg) from None
    return secret


def sender_options(settings: Settings, options: SenderOptions | None = None) -> SenderOptions:
    """The sender's timings (`options`: tests make them short), with the settings' budget."""
    return dataclasses.replace(options or SenderOptions(), retry_for_s=settings.webhook_retry_for_s)


class WebhookHandler:
    """Queues each configured event for every URL; `handle` is one short database write,
    to the shared outbox or, while its database is down, to the local one (`local`)."""

    name = "webhook"

    def __init__(
        self,
        settings: Settings,
        logger: Any | None = None,
        options: SenderOptions | None = None,
    ) -> None:
        self._secret = check_settings(settings)
        self._settings = settings
        self._options = sender_options(settings, options)
        self._events = frozenset(settings.webhook_events)
        self._log = logger if logger is not None else make_logger(settings)
        self._outboxes: dict[str, Outbox] = {}
        self._full = False
        self._shared = shared_database(settings.db_url)
        self._local_path = local_outbox_path(settings)
        self._local_url = local_outbox_url(settings)
        self.writer = SpooledWriter[list[Row]](
            self._write,
            what="webhook outbox",
            db_url=settings.db_url,
            logger=self._log,
            spool=Spool(Path(settings.spool_dir), "webhook_outbox", settings.spool_max),
            encode=lambda rows: rows,
            decode=lambda rows: rows,
            describe=lambda rows: {"call_key": rows[0]["call_key"], "seq": rows[0]["seq"]},
        )
        """Outbox writes, kept in the local spool while the database cannot take them."""
        # Building the handler (as the health endpoint does) touches neither the database
        # nor the sender: both wait for the first event.
        self._database = DatabaseCheck(settings.db_url, OUTBOX)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookHandler:
        return cls(settings)

    async def handle(self, event: CallEvent) -> None:
        if self._events and event.type not in self._events:
            return
        settings = self._settings
        data = redacted_event(event, settings.phone_numbers)
        body = webhook_body(event, data, twilio=settings.webhook_twilio_fields)
        now = utc_now()
        common = {
            "webhook_id": webhook_id(event),
            "call_key": event.call.key,
            "seq": event.seq,
            "event_type": event.type,
            "body": body,
            "created_at": utc(event.at),
            "next_attempt_at": now,
            "retry_from": now,
        }
        rows = [fit_row(webhook_outbox, {**common, "url": url})[0] for url in settings.webhook_urls]
        await self._route(event.call.key, rows)

    async def _route(self, call: str, rows: list[Row]) -> None:
        """One call's rows go to one outbox at a time, so they go out in order: the local
        one while rows of the call wait there, or when the shared database is down and
        none of the call's rows are in flight on the shared path; else the shared one."""
        shared = self._settings.db_url
        if not await asyncio.to_thread(self._waits_locally, call):
            if PENDING.of(shared, call):  # behind its rows in flight: spooled while down
                PENDING.queued(shared, call, len(rows))
                self._shared.wrote(await self.writer.add(rows))
                return
            if not self._shared.down:
                PENDING.queued(shared, call, len(rows))
                if await self.writer.try_add(rows):
                    self._shared.wrote(True)
                    return
                PENDING.settled(shared, call, len(rows))
                self._shared.wrote(False)
        PENDING.queued(self._local_url, call, len(rows))
        try:
            await asyncio.to_thread(self._queue_locally, rows)
        except Exception as exc:  # a broken local disk: the shared path keeps it, spooled
            PENDING.settled(self._local_url, call, len(rows))
            self._log.warning(
                "local webhook outbox write failed; event queued for the shared database",
                error=first_line(exc),
                path=str(self._local_path),
            )
            PENDING.queued(shared, call, len(rows))
            await self.writer.add(rows)

    def _waits_locally(self, call: str) -> bool:
        """In a thread: whether rows of the call wait in the local outbox (by this process
        or one before it)."""
        return self._local_path.exists() and self._outbox(self._local_url).has_waiting(call)

    def _queue_locally(self, rows: list[Row]) -> None:
        self._local_path.parent.mkdir(parents=True, exist_ok=True)
        self._queue(self._local_url, rows)

    def _outbox(self, url: str) -> Outbox:
        outbox = self._outboxes.get(url)
        if outbox is None:
            outbox = self._outboxes[url] = Outbox(migrated_engine(url, OUTBOX))
        return outbox

    def _write(self, batches: Sequence[list[Row]]) -> None:
        """In a thread: the shared outbox's writes, from `handle` or from the spool."""
        self._queue(self._settings.db_url, [row for rows in batches for row in rows])

    def _queue(self, url: str, rows: list[Row]) -> None:
        """In a thread: rows into the outbox at `url`, waking its sender (opened and
        started on first use). Both outboxes count against SIP_AGENT_WEBHOOK_OUTBOX_MAX."""
        limit = self._settings.webhook_outbox_max
        refused = self._outbox(url).add(rows, limit)
        for row in rows[len(rows) - refused :]:
            PENDING.settled(url, row["call_key"])
        if refused and not self._full:
            self._log.warning(
                "webhook outbox full; events not queued",
                refused=refused,
                limit=limit,
                fix="endpoints down or too slow: fix them, or raise SIP_AGENT_WEBHOOK_OUTBOX_MAX",
            )
        self._full = bool(refused)
        start_sender(url, self._secret, self._log, self._options).wake()

    async def health_check(self) -> str | None:
        """Required: the outbox's database answers and the outbox can take events."""
        return await self._database.check(self._backlog_problem)

    def _backlog_problem(self, engine: Engine) -> str | None:
        """In the check's thread: a full outbox refuses events; a stale one delivers none."""
        outbox, limit = Outbox(engine), self._settings.webhook_outbox_max
        depth = outbox.depth()
        if depth >= limit:
            return (
                f"outbox full: {depth} events waiting, limit SIP_AGENT_WEBHOOK_OUTBOX_MAX={limit}"
            )
        oldest = outbox.oldest()
        if oldest is not None and utc_now() - oldest[1] > STALE_AFTER:
            url, since = oldest
            # The host only: paths and query strings of webhook URLs often carry tokens.
            parts = urlsplit(url)
            host = f"{parts.hostname}{f':{parts.port}' if parts.port else ''}"
            hours = (utc_now() - since) / timedelta(hours=1)
            return (
                f"outbox stale: oldest undelivered event waiting {hours:.1f}h "
                f"(over {STALE_AFTER / timedelta(hours=1):g}h) for {host}"
            )
        return None

    async def aclose(self) -> None:
        await self.writer.aclose()


def drain_at_start(settings: Settings) -> None:
    """The worker's own process drains the outboxes from start-up: what a previous run left
    (in the shared outbox or the local one) goes out even if no call comes, and what the
    local spool holds goes into the outbox once the database answers. A database that is
    down is a warning, not a crash."""
    secret, logger = check_settings(settings), make_logger(settings)
    keep_draining(
        WebhookHandler(settings, logger).writer,
        f"webhook_outbox:{settings.spool_dir}:{settings.db_url}",
    )
    if local_outbox_path(settings).exists():  # what the last outage left on local disk
        start_sender(local_outbox_url(settings), secret, logger, sender_options(settings))
    try:
        start_sender(settings.db_url, secret, logger, sender_options(settings))
    except Exception as exc:  # the sender starts with the first event instead
        logger.warning("webhook outbox unreachable at start", error=first_line(exc))
