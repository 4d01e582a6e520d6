"""The local outbox: the outbox's tables in an SQLite file in `SIP_AGENT_SPOOL_DIR`, so
webhooks keep going out while the shared database (`SIP_AGENT_DB_URL`) is down.

A call goes there when the shared database failed its last write and this process has
none of the call's rows in flight on the shared path; it stays there while any of its
rows wait in the file. The file has its own sender, started again at the worker's start
while the file exists, so a restart keeps delivering it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from ..database.buffer import RETRY_AFTER_S
from ..database.engine import engine_for
from ..settings import Settings

FILE = "webhook_outbox.local.sqlite3"


def local_outbox_path(settings: Settings) -> Path:
    return Path(settings.spool_dir).absolute() / FILE


def local_outbox_url(settings: Settings) -> str:
    return f"sqlite:///{local_outbox_path(settings)}"


class SharedDatabase:
    """Whether the shared database took this process's last outbox write. While it did
    not, it is asked again in the background (one short write transaction, at most every
    `RETRY_AFTER_S`): calls on the local outbox no longer write to it, so no write would
    tell that it is back."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._down = False
        self._asked_at = 0.0
        self._asking = False

    def wrote(self, ok: bool) -> None:
        with self._lock:
            self._down = not ok
            self._asked_at = time.monotonic()

    @property
    def down(self) -> bool:
        with self._lock:
            due = time.monotonic() - self._asked_at >= RETRY_AFTER_S
            if self._down and due and not self._asking:
                self._asking = True
                probe = threading.Thread(target=self._ask, name="sip-agent-db-probe", daemon=True)
                probe.start()
            return self._down

    def _ask(self) -> None:
        try:
            # A write transaction: a locked SQLite file answers reads but takes no write.
            with engine_for(self._url).begin() as db:
                db.execute(text("SELECT 1"))
            up = True
        except Exception:
            up = False
        with self._lock:
            self._down, self._asking = not up, False
            self._asked_at = time.monotonic()


_shared: dict[str, SharedDatabase] = {}
_lock = threading.Lock()


def shared_database(url: str) -> SharedDatabase:
    """The process's view of `url`, shared by every job's handler."""
    with _lock:
        return _shared.setdefault(url, SharedDatabase(url))
