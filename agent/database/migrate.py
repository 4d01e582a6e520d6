"""Schema migrations with Alembic, one chain per part, shipped in the package, applied at
first use.

Each part (the call log, the webhook outbox) owns its tables and its chain, recorded in its
own version table, so either can change without the other. Several processes may start at
once on one database: a lock makes the first one migrate and the others find the schema at
the head (a PostgreSQL advisory lock; for SQLite, a lock file beside the database, since
SQLite DDL and Alembic's version table are not one unit).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from .engine import engine_for

ENVIRONMENT = Path(__file__).parent / "alembic_env"
HEAD = "head"
# Any constant shared by every worker: it names "the sip-agent schema migration" lock.
PG_LOCK_ID = 0x5195_A6E7


@dataclass(frozen=True, slots=True)
class Schema:
    """A part's tables as a migration chain: where its revisions are, where it records them."""

    name: str
    versions: Path
    version_table: str


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(Path(database).with_suffix(".migrate.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _config(connection: Connection, schema: Schema) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    # One location, taken whole (a path may hold spaces).
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(schema.versions))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = schema.version_table
    return config


def upgrade(engine: Engine, schema: Schema, revision: str = HEAD) -> None:
    """Bring `schema` to `revision` (the head by default); a no-op when it is there."""
    postgres = engine.url.get_backend_name() == "postgresql"
    lock = contextlib.nullcontext() if postgres else _sqlite_file_lock(engine)
    with lock, engine.connect() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
        command.upgrade(_config(connection, schema), revision)
        connection.commit()


# Per engine: a new engine (after `dispose_all`) checks the schema again.
_migrated: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def migrated_engine(url: str, schema: Schema) -> Engine:
    """The process's engine for `url` with `schema` at its head (migrated once per process);
    raises if the database is down."""
    engine = engine_for(url)
    with _lock:
        done = _migrated.setdefault(engine, set())
        if schema.name not in done:
            upgrade(engine, schema)
            done.add(schema.name)
    return engine
