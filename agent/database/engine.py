"""One SQLAlchemy engine per database URL and process (each part migrates its own tables).

SQLite is tuned for several job threads and processes writing at once: WAL (readers never
block the writer), a busy timeout (writers queue instead of failing) and `BEGIN IMMEDIATE`
(a transaction takes the write lock up front, so two writers cannot deadlock on an upgrade
from a read lock, which SQLite answers with an immediate "database is locked").
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from ..errors import ConfigError

# Well under the handler timeout (SIP_AGENT_HANDLER_TIMEOUT_S, 5 s by default): a file locked
# longer sends the write to the local spool instead of holding the call's handlers.
SQLITE_BUSY_TIMEOUT_S = 1.0

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url(url: str) -> URL:
    """`SIP_AGENT_DB_URL` as SQLAlchemy reads it; plain `postgresql://` uses psycopg 3."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        msg = f"invalid setting SIP_AGENT_DB_URL: {exc} (use sqlite:///path.db or postgresql://...)"
        raise ConfigError(msg) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        msg = f"invalid setting SIP_AGENT_DB_URL: {backend} is not supported (sqlite or postgresql)"
        raise ConfigError(msg)
    return parsed


def check_database_url(url: str) -> URL:
    """`database_url`, and what a URL needs to work before any database is asked: a port
    that exists; for SQLite a file path (not memory, where the log dies with the process) in
    a directory that exists and takes new files (WAL and journal files go beside it)."""
    parsed = database_url(url)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigError(f"invalid setting SIP_AGENT_DB_URL: port {parsed.port} is not 1-65535")
    if parsed.get_backend_name() != "sqlite":
        return parsed
    if parsed.database in (None, "", ":memory:"):
        msg = "invalid setting SIP_AGENT_DB_URL: no database file (use sqlite:///path.db)"
        raise ConfigError(msg)
    folder = Path(parsed.database).absolute().parent
    if not folder.is_dir():
        raise ConfigError(f"invalid setting SIP_AGENT_DB_URL: directory {folder} does not exist")
    try:  # a real file, not os.access: root passes that check on a read-only mount
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        msg = (
            f"invalid setting SIP_AGENT_DB_URL: directory {folder} is not writable ({exc.strerror})"
        )
        raise ConfigError(msg) from None
    return parsed


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions itself: the `begin` listener does, IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pre_ping: a fleet's database restarts; a stale pooled connection must not fail a write.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        # A host that drops packets fails fast: the write goes to the spool.
        connect_args={"connect_timeout": 3},
    )


def engine_for(url: str) -> Engine:
    """The process's engine for `url` (connections are opened when used)."""
    key = str(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create(database_url(url))
        return engine


def dispose_all() -> None:
    """Close every pooled connection (tests, and a process about to exit)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
