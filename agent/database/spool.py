"""The local spool: writes the database cannot take now, kept on local disk, in order.

One SQLite file per part in `SIP_AGENT_SPOOL_DIR`, shared by the worker's processes: what a
job could not write survives the job and a restart, and is written by whichever process
drains next. Items are JSON; datetimes keep their zone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

_DATETIME = "$datetime"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME in obj:
        return datetime.fromisoformat(obj[_DATETIME])
    return obj


def dumps(item: Any) -> str:
    return json.dumps(item, default=_default)


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_hook)


class Spool:
    def __init__(self, directory: Path, part: str, limit: int) -> None:
        self.part = part
        self.limit = limit
        self.path = directory / f"{part}.sqlite3"
        self._lock_path = directory / f"{part}.drain.lock"

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, item TEXT)")
            yield db
        finally:
            db.close()

    def append(self, items: list[Any]) -> int:
        """Keep `items` durably; returns how many were refused because the spool is full."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            held = int(db.execute("SELECT count(*) FROM items").fetchone()[0])
            room = max(self.limit - held, 0)
            db.executemany(
                "INSERT INTO items (item) VALUES (?)", [(dumps(i),) for i in items[:room]]
            )
            db.execute("COMMIT")
        return len(items) - min(room, len(items))

    def head(self, count: int) -> list[tuple[int, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT id, item FROM items ORDER BY id LIMIT ?", (count,))
            return [(row_id, loads(text)) for row_id, text in rows]

    def remove(self, ids: list[int]) -> None:
        with self._db() as db:
            db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM items").fetchone()[0])

    @contextlib.contextmanager
    def draining(self) -> Iterator[bool]:
        """True when this process may drain now (one drainer at a time per spool)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
