"""Does `SIP_AGENT_DB_URL`'s database answer? The health check of the handlers that need it.

Runs on every probe of the health endpoint, so it is one short query in a thread (the
worker's event loop never waits on the database) and at most one at a time: a database
that hangs (a host that drops packets) holds one thread, not one more per probe.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

from ..health import CHECK_TIMEOUT_S
from .buffer import first_line, safe_url
from .engine import database_url
from .migrate import Schema, migrated_engine

Query = Callable[[Engine], str | None]
# Below the health endpoint's own cap, so a slow database is named rather than reported
# as an anonymous timeout.
ANSWER_WITHIN_S = CHECK_TIMEOUT_S * 0.75


def _sqlite_path(url: str) -> Path | None:
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def _sqlite_problem(path: Path, *, opened: bool) -> str | None:
    """What a pooled connection cannot see: SQLite keeps answering on a file that was
    deleted, or in a directory that was removed, while every new write is lost or fails."""
    folder = path.parent
    if not folder.is_dir():
        return f"directory {folder} does not exist"
    # WAL and journal files are created beside the database: the directory must be writable.
    if not os.access(folder, os.W_OK):
        return f"directory {folder} is not writable"
    if opened and not path.exists():
        return f"database file {path} was removed"
    if opened and not os.access(path, os.W_OK):
        return f"database file {path} is not writable"
    return None


class DatabaseCheck:
    """`check(query)`: None when the database answers `SELECT 1` with the part's `schema`
    at its head and then `query` (if given) finds no problem; otherwise one line naming
    SIP_AGENT_DB_URL without password."""

    def __init__(self, url: str, schema: Schema) -> None:
        self._url = url
        self._schema = schema
        self._shown = f"SIP_AGENT_DB_URL={safe_url(url)}"
        self._running: asyncio.Future[str | None] | None = None
        try:
            self._password = database_url(url).password
        except Exception:  # an invalid URL: the probe reports it
            self._password = None

    async def check(self, query: Query | None = None) -> str | None:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(asyncio.to_thread(self._probe, query))
        try:
            # shield: a probe that gives up must not cancel the thread's answer, which
            # the next probe picks up instead of starting another thread.
            return await asyncio.wait_for(asyncio.shield(self._running), ANSWER_WITHIN_S)
        except TimeoutError:
            return f"{self._shown} no answer within {ANSWER_WITHIN_S:g}s"

    def _probe(self, query: Query | None) -> str | None:
        """In a thread; never raises (nobody may be waiting for the answer any more)."""
        try:
            path = _sqlite_path(self._url)
            if path is not None and (problem := _sqlite_problem(path, opened=False)):
                return f"{self._shown} unusable: {problem}"
            # The process's engine, as the writes use it (created and migrated if need be).
            engine = migrated_engine(self._url, self._schema)
            with engine.connect() as db:
                db.execute(text("SELECT 1"))
            if path is not None and (problem := _sqlite_problem(path, opened=True)):
                return f"{self._shown} unusable: {problem}"
            return query(engine) if query is not None else None
        except Exception as exc:  # any driver, network or configuration error
            return f"{self._shown} unreachable: {self._hide_password(first_line(exc))}"

    def _hide_password(self, message: str) -> str:
        # Drivers quote connection parameters in some errors; never the password.
        password = self._password
        return message.replace(str(password), "***") if password else message
