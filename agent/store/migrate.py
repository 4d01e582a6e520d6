"""Schema migrations with Alembic, shipped in the package and applied at start.

Several processes may start at once on one database: a lock makes the first one migrate
and the others find the schema at the head (a PostgreSQL advisory lock; for SQLite, a lock
file beside the database, since SQLite DDL and Alembic's version table are not one unit).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "head"
# Any constant shared by every worker: it names "the sip-agent schema migration" lock.
PG_LOCK_ID = 0x5195_A6E7


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


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Bring the schema to `revision` (the head by default); a no-op when it is there."""
    postgres = engine.url.get_backend_name() == "postgresql"
    lock = contextlib.nullcontext() if postgres else _sqlite_file_lock(engine)
    with lock, engine.connect() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
        command.upgrade(_config(connection), revision)
        connection.commit()
