"""Simulated calls and databases for the call log, webhook and `calls` CLI tests."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from agent import tracker
from agent.database.engine import dispose_all
from agent.events import CallEvent
from agent.standin.waiting import Changes

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PG_URL_ENV = "SIP_AGENT_TEST_PG_URL"


def twilio_call(n: int, *, start: datetime = T0) -> list[CallEvent]:
    """Inbound Twilio call number `n`: ringing 4 s, talk 30 s, caller hangs up; 5 events."""
    attrs = {
        "sip.callID": f"SCL_{n:05d}",
        "sip.ruleID": "SDR_main",
        "sip.trunkID": "ST_twilio",
        "sip.callStatus": "ringing",
        "sip.phoneNumber": f"+1555{n:07d}",
        "sip.trunkPhoneNumber": "+15559870002",
        "sip.twilio.callSid": f"CA{n:032x}",
        "sip.h.x-customer-id": f"cust-{n}",
        "tier": "gold",
    }
    state, events = tracker.start(
        attrs, room=f"call-{n}", identity=f"sip_+1555{n:07d}", participant_sid=f"PA{n}", now=start
    )
    answered = start + timedelta(seconds=4)
    state, more = tracker.update(state, attrs | {"sip.callStatus": "active"}, now=answered)
    events += more
    hangup = answered + timedelta(seconds=30)
    state, more = tracker.update(state, attrs | {"sip.callStatus": "hangup"}, now=hangup)
    events += more
    state, more = tracker.end(state, reason="CLIENT_INITIATED", now=hangup)
    return events + more


def busy_call(n: int, *, start: datetime = T0) -> list[CallEvent]:
    """Outbound call `n` the callee refuses (USER_REJECTED, SIP 486): 2 events."""
    attrs = {
        "sip.callID": f"SCL_out{n:05d}",
        "sip.trunkID": "ST_out",
        "sip.callStatus": "dialing",
        "sip.phoneNumber": f"+4930{n:07d}",
        "sip.trunkPhoneNumber": "+15559870002",
    }
    state, events = tracker.start(
        attrs, room=f"out-{n}", identity=f"out-{n}", participant_sid=f"PB{n}", now=start
    )
    state, more = tracker.end(
        state, reason="USER_REJECTED", now=start + timedelta(seconds=3), sip_status_code=486
    )
    return events + more


class WatchedLog(io.StringIO):
    """A log stream a test can wait on: `until(text)` returns once a line holds `text`
    (lines may come from the webhook sender's thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._written = Changes("log")

    def write(self, text: str) -> int:
        written = super().write(text)
        self._written.changed()
        return written

    async def until(self, text: str, timeout: float = 10.0) -> None:
        await self._written.holds(lambda: text in self.getvalue(), timeout, repr(text))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of our own in a temp dir (Debian's initdb/pg_ctl, run as the
    `postgres` user when we are root: initdb refuses root)."""
    versions = sorted(_versions(), key=lambda v: int(v) if v.isdigit() else 0)
    if not versions:
        msg = (
            f"no PostgreSQL server here: install it (apt-get install postgresql) "
            f"or set {PG_URL_ENV} to a scratch database"
        )
        raise RuntimeError(msg)
    bindir = f"/usr/lib/postgresql/{versions[-1]}/bin"
    data = tempfile.mkdtemp(prefix="sip-agent-pg-")
    port = free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        f"{bindir}/pg_ctl", "-D", data, "-w", "-l", f"{data}/log",
        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def _versions() -> list[str]:
    try:
        return os.listdir("/usr/lib/postgresql")
    except FileNotFoundError:
        return []


def reset_postgres(url: str) -> None:
    """An empty `public` schema in the scratch database: each test starts from nothing."""
    dispose_all()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as db:
        db.execute(text("DROP SCHEMA public CASCADE"))
        db.execute(text("CREATE SCHEMA public"))
    engine.dispose()
