"""Emulated SIP callers against a real livekit-server, for benchmarks/capacity_live.py.

    python benchmarks/sip_callers.py URL KEY SECRET PLAN_JSON

Each call is a participant whose token's kind is SIP, with the `sip.*` attributes LiveKit's
SIP service writes on an inbound call; it joins its own room, the agent is sent there by
explicit dispatch, the caller goes `active` 1 s later and, when a line comes on stdin (or
after `hold_s` at the latest), writes `hangup` and leaves (CLIENT_INITIATED). The plan gives
`calls`: [[room, agent_name, start_at (unix s)], ...], `hold_s`, `first` and `dispatch`:
`room` (the default) creates the room with the agent in its room configuration, from the
caller's token, as LiveKit's SIP service does for a dispatch rule's `room_config`; `api`
joins first, then asks `AgentDispatchService.CreateAgentDispatch`. Lines of JSON on stdout:
one when a call is up (room, agent, dispatched: unix s just before the dispatch, the connect
that creates the room or the API request; connect_s: how long its own room took to connect)
and one at its end (the same with `done` and any `error`).

Cheap on purpose (the load generator shares the machine with what it measures): every call
of a process on one event loop, no media, each room's FFI events routed to it alone
(`agent.ffi_routing`, as the worker does) instead of woken for every room's events, and the
worker's own listener connection (one peer connection, ICE gathered once, no native log
records handed to Python).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from typing import Any

from livekit import api, rtc

from agent import ffi_routing, native_logs
from agent.ice import listener_rtc

ACTIVE_AFTER_S = 1.0
# The worker's own listener connection: one peer connection, ICE gathered once (a third of
# the native idle cost of a default room, measured).
CALLER_OPTIONS = rtc.RoomOptions(
    auto_subscribe=False, rtc_config=listener_rtc(), single_peer_connection=True
)


def _attributes(room: str, n: int) -> dict[str, str]:
    return {
        "sip.callID": f"SCL_{room}",
        "sip.callStatus": "ringing",
        "sip.phoneNumber": f"+1555{n:07d}",
        "sip.trunkPhoneNumber": "+15559870002",
        "sip.trunkID": "ST_bench",
        "sip.ruleID": "SDR_bench",
    }


async def _call(
    lk: api.LiveKitAPI | None,
    url: str,
    key: str,
    secret: str,
    plan: list[Any],
    hangup: Hangup,
    n: int,
) -> dict[str, Any]:
    """One call; `lk` is None when the room's configuration dispatches the agent."""
    room_name, agent_name, start_at = plan
    record: dict[str, Any] = {"room": room_name, "agent": agent_name, "dispatched": None}
    await asyncio.sleep(max(0.0, start_at - time.time()))
    token = (
        api.AccessToken(key, secret)
        .with_identity(f"sip_+1555{n:07d}")
        .with_kind("sip")
        .with_attributes(_attributes(room_name, n))
        .with_grants(api.VideoGrants(room_join=True, room=room_name, can_update_own_metadata=True))
    )
    if lk is None:
        dispatch = api.RoomAgentDispatch(agent_name=agent_name)
        token = token.with_room_config(api.RoomConfiguration(agents=[dispatch]))
    room = rtc.Room()
    try:
        connecting = time.monotonic()
        if lk is None:
            record["dispatched"] = time.time()
        await room.connect(url, token.to_jwt(), CALLER_OPTIONS)
        record["connect_s"] = time.monotonic() - connecting
        ffi_routing.route(room)
        if lk is not None:
            record["dispatched"] = time.time()
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=agent_name, room=room_name)
            )
        print(json.dumps(record), flush=True)  # the call is up: the benchmark's idle window
        await asyncio.sleep(ACTIVE_AFTER_S)
        await room.local_participant.set_attributes({"sip.callStatus": "active"})
        await hangup.wait()
        await room.local_participant.set_attributes({"sip.callStatus": "hangup"})
    except Exception as exc:  # a benchmark reports a broken call, it does not hide it
        record["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        await room.disconnect()
    return {**record, "done": True}


class Hangup:
    """Every call hangs up when a line comes on stdin (the benchmark's idle window is over),
    or after `hold_s` at the latest."""

    def __init__(self, hold_s: float) -> None:
        self._event = asyncio.Event()
        self._hold_s = hold_s
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop,), daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        sys.stdin.readline()
        loop.call_soon_threadsafe(self._event.set)

    async def wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), self._hold_s)


async def run(url: str, key: str, secret: str, plan: dict[str, Any]) -> None:
    native_logs.start_ffi_without_log_capture()
    ffi_routing.install()
    hangup = Hangup(plan["hold_s"])
    http = url.replace("ws://", "http://").replace("wss://", "https://")
    async with api.LiveKitAPI(http, key, secret) as lk:
        dispatcher = lk if plan.get("dispatch", "room") == "api" else None
        calls = [
            _call(dispatcher, url, key, secret, call, hangup, plan["first"] + i)
            for i, call in enumerate(plan["calls"])
        ]
        for done in asyncio.as_completed(calls):
            print(json.dumps(await done), flush=True)


if __name__ == "__main__":
    url_, key_, secret_, plan_ = sys.argv[1:5]
    asyncio.run(run(url_, key_, secret_, json.loads(plan_)))
    # Every room is closed; skip the interpreter's teardown under the native library's
    # threads (a callback into a finalizing interpreter aborted a process once).
    os._exit(0)
