"""Our worker as users run it: `python -m agent start` in a subprocess, read from its JSON log.

A thread reads every line the worker prints (stdout and stderr), keeps a copy in a log file
and the JSON ones as records: livekit-agents' have a `message`, our call events an `event`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.store import CallStore

from .records import Predicate, Record, Records, where
from .stack import Stack, clean_env, free_port, stop_process, tail

AGENT_NAME = "sip-agent"
"""The dispatch rule's `roomConfig.agents[].agentName` (deploy/livekit/dispatch-rule.json)."""
REGISTER_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


class Worker:
    """A running `python -m agent start` and what it has logged so far."""

    def __init__(
        self, proc: subprocess.Popen[bytes], log: Path, db_url: str | None, wrapped: bool = False
    ) -> None:
        self.proc = proc
        """The worker's process, or the wrapper's it runs under."""
        self.wrapped = wrapped
        self.log = log
        """Everything the worker printed, as it printed it."""
        self.db_url = db_url
        """Its call log (`SIP_AGENT_DB_URL`) when the `store` handler is on."""
        self.records = Records(self._describe)
        """Every JSON line, in order."""
        self._reader = threading.Thread(target=self._read, name="worker-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.log.open("wb") as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()
                record = _parse(line)
                if record is not None:
                    self.records.add(record)
        self.proc.wait()
        self.records.close()

    def _describe(self) -> str:
        code = self.proc.poll()
        state = "running" if code is None else f"exited with {code}"
        return f"worker {state}; last lines of {self.log}:\n{tail(self.log, 30)}"

    def events(self, **fields: Any) -> list[Record]:
        """The call events logged so far with these fields, e.g. `events(call_id=...)`."""
        return self.records.all(lambda r: "event" in r and where(**fields)(r))

    async def wait_for(self, predicate: Predicate, timeout: float = 30.0, what: str = "") -> Record:
        """The first record, logged or still to come, that matches; fails after `timeout`
        seconds, or as soon as the worker exits, with the tail of its log."""
        return await self.records.wait_for(predicate, timeout, what or "a matching log record")

    async def wait_for_event(self, event: str, timeout: float = 30.0, **fields: Any) -> Record:
        """The first call event `event` with these fields: `("call.ended", call_id=...)`."""
        what = f"{event} with {fields}" if fields else event
        return await self.wait_for(where(event=event, **fields), timeout, what)

    def stored_call(self, call_id: str) -> dict[str, Any] | None:
        """The call's row in the worker's call log (headers, custom attributes, outcome...)."""
        assert self.db_url is not None, "the worker runs without the store handler"
        return CallStore.open(self.db_url).find(call_id)

    def stop(self) -> int:
        """SIGTERM (the worker drains its calls), then SIGKILL if that takes too long."""
        if self.wrapped and self.proc.poll() is None:
            # The worker is the wrapper's child: it gets the SIGTERM, the wrapper ends with it.
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            for child in children.read_text().split():
                os.kill(int(child), signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT_S)
        stop_process(self.proc, STOP_TIMEOUT_S)  # the worker drains its calls first
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _parse(line: bytes) -> Record | None:
    text = line.decode(errors="replace").strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def worker_env(stack: Stack, workdir: Path, **settings: str) -> dict[str, str]:
    """The environment of a worker against `stack`: `settings` are SIP_AGENT_* values by
    lower-case name (`handlers="log,router"`), over the defaults here. The call log (a
    SQLite file in `workdir`) is set only when the handlers include `store`."""
    values = {
        "name": AGENT_NAME,
        "log_format": "json",
        "health_port": str(free_port()),
        # store before log: a call event's log line comes once it is in the call log.
        "handlers": "store,log",
        "phone_numbers": "full",
    } | settings
    if "store" in values["handlers"].split(","):
        values.setdefault("db_url", f"sqlite:///{workdir / 'calls.db'}")
    env = clean_env() | {f"SIP_AGENT_{k.upper()}": v for k, v in values.items()}
    return env | {
        "LIVEKIT_URL": stack.ws_url,
        "LIVEKIT_API_KEY": stack.api_key,
        "LIVEKIT_API_SECRET": stack.api_secret,
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def start_worker(
    stack: Stack, workdir: Path, wrapper: Sequence[str] = (), **settings: str
) -> Iterator[Worker]:
    """`python -m agent start` against `stack`, in `workdir` (so no stray .env is read),
    registered with the server when the block starts, stopped (SIGTERM) when it ends.
    `wrapper`: a command it runs under (`strace ...`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = worker_env(stack, workdir, **settings)
    proc = subprocess.Popen(
        [*wrapper, sys.executable, "-m", "agent", "start"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    worker = Worker(proc, workdir / "worker.log", env.get("SIP_AGENT_DB_URL"), bool(wrapper))
    try:
        worker.records.wait_for_sync(
            where(message="registered worker", agent_name=env["SIP_AGENT_NAME"]),
            REGISTER_TIMEOUT_S,
            "the worker's registration",
        )
        yield worker
    finally:
        worker.stop()
