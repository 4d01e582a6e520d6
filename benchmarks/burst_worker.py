"""One worker process for benchmarks/burst.py, its rooms answered by FakeLiveKit.

    python benchmarks/burst_worker.py agent      # `python -m agent start`, unchanged
    python benchmarks/burst_worker.py examples   # as LiveKit's telephony examples configure one
    python benchmarks/burst_worker.py examples-live   # the same against a real LiveKit server

The `/agent` endpoint is real (burst.py runs AgentEndpoint); only the media server is stood
in for. A room is created in the process whose job connects to it, with the caller already
in it, and a thread then plays the call as LiveKit's SIP service would: active after
BURST_ACTIVE_AFTER_S, hangup + CLIENT_INITIATED after BURST_HOLD_S more.

`agent` (thread executor): the stand-in is installed once, in the worker process, before the
CLI starts. `examples` (process executor): it is installed in every job process by the
server's `setup_fnc` (the examples' `prewarm`), which runs in the job process after the
forkserver forked it; this module is imported there by name, so the function pickles.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time

from livekit.agents import AgentServer, JobProcess, cli

from agent.assembly import worker_config
from agent.entrypoint import entrypoint
from agent.settings import load_settings
from agent.standin import FakeLiveKit, FakeRoom

CALLER = "sip_+15551230001"


def _attributes(room: str) -> dict[str, str]:
    return {
        "sip.callID": f"SCL_{room}",
        "sip.callStatus": "ringing",
        "sip.phoneNumber": "+15551230001",
        "sip.trunkPhoneNumber": "+15559870002",
        "sip.trunkID": "ST_twilio",
        "sip.ruleID": "SDR_main",
    }


def _play(fake: FakeRoom, active_after: float, hold: float) -> None:
    """The SIP service's side of one call, from the moment the job's room connects."""
    try:
        deadline = time.monotonic() + 30
        while not fake.rooms():
            if time.monotonic() > deadline:
                print(f"burst: room {fake.name} never connected", file=sys.stderr, flush=True)
                return
            # Coarse on purpose: 200 player threads polling fast would fight the worker's
            # own threads for the GIL, which a real SIP service does not.
            time.sleep(0.25)
        time.sleep(active_after)
        fake.set_attributes(CALLER, {"sip.callStatus": "active"})
        time.sleep(hold)
        fake.set_attributes(CALLER, {"sip.callStatus": "hangup"})
        fake.leave(CALLER, "CLIENT_INITIATED")
    except Exception as exc:  # a benchmark reports a broken call, it does not hide it
        print(f"burst: call in {fake.name} failed: {exc!r}", file=sys.stderr, flush=True)


class _CallersLiveKit(FakeLiveKit):
    """Every room a job connects to already holds a ringing SIP caller, and gets a player."""

    def __init__(self, *, api_key: str, api_secret: str) -> None:
        super().__init__(api_key=api_key, api_secret=api_secret)
        self._active_after = float(os.environ.get("BURST_ACTIVE_AFTER_S", "1"))
        self._hold = float(os.environ.get("BURST_HOLD_S", "10"))
        self._lock = threading.Lock()

    def room(self, name: str) -> FakeRoom:
        with self._lock:  # job threads connect concurrently under the thread executor
            existing = self._rooms.get(name)
            if existing is not None:
                return existing
            fake = FakeRoom(name)
            fake.join(CALLER, attributes=_attributes(name))
            # Copy on write: other job threads may be iterating the rooms (disconnect lookups).
            self._rooms = {**self._rooms, name: fake}
        player = threading.Thread(
            target=_play, args=(fake, self._active_after, self._hold), daemon=True
        )
        player.start()
        return fake


def install() -> None:
    _CallersLiveKit(
        api_key=os.environ["LIVEKIT_API_KEY"], api_secret=os.environ["LIVEKIT_API_SECRET"]
    ).install()


def prewarm(proc: JobProcess) -> None:
    """The examples' `prewarm` hook: here it puts the stand-in in this job process."""
    install()


def run_agent() -> None:
    install()
    from agent.cli import main

    main(["start"])


def run_examples(*, standin: bool = True) -> None:
    settings = load_settings()
    # What the examples write: AgentServer() with its defaults (process executor, CPU load
    # function at 0.7 in production, one idle process per core, models preloaded), a prewarm
    # hook and an rtc_session entrypoint. Only the HTTP port is free instead of 8081: other
    # workers share this machine and the port plays no part in admission.
    server = AgentServer(port=0)
    if standin:
        server.setup_fnc = prewarm
    server.rtc_session(
        functools.partial(entrypoint, config=worker_config(settings)),
        agent_name=settings.name,
    )
    sys.argv = [sys.argv[0], "start"]
    cli.run_app(server)


if __name__ == "__main__":
    # Run through the importable module, not `__main__`, so `prewarm` pickles by module name
    # for the forkserver's job processes.
    import burst_worker

    {
        "agent": burst_worker.run_agent,
        "examples": burst_worker.run_examples,
        "examples-live": functools.partial(burst_worker.run_examples, standin=False),
    }[sys.argv[1]]()
