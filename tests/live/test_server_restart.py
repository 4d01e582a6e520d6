"""livekit-server crashes (SIGKILL) under an answered SIP call and is started again on the same
ports with the same config; Redis and the SIP service go on. The call must survive its
agent's reconnect: one call (no second `call.started`), `call.resumed` once the caller is
announced again, and still tracked afterwards: the phone's BYE ends it once, completed by
the caller.

Each run has a stack of its own (the session's must not be killed under other tests),
provisioned from the deploy files like the session's, and a worker of its own.

Seen on livekit-server 1.13.5 with Redis: the restarted server opens the room again and
dispatches it again, so a second job of the worker joins the room beside the resumed one;
and the SIP participant comes back with its join-time attributes (`sip.callStatus`
`ringing` although the call was answered).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from livekit import api

from .calls import wait_started
from .provision import NUMBER, Provisioned, provision
from .records import Record, where
from .repeat import runs
from .room import join
from .sipp import Phone, caller_keys
from .stack import Stack, free_port, missing_binaries, start_stack
from .worker import Worker, start_worker

pytestmark = pytest.mark.live
T = TypeVar("T")
WAIT_S = 90.0
"""Generous: others run live sessions on this machine at the same time."""


@dataclass(frozen=True)
class Crashable:
    """A run's own stack, worker and phone."""

    stack: Stack
    worker: Worker
    phone: Phone


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`work` to the end, from sync fixture code, in a thread of its own (no loop runs there)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def delete_rooms(stack: Stack) -> None:
    async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lkapi:
        for room in (await lkapi.room.list_rooms(api.ListRoomsRequest())).rooms:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room.name))


@contextmanager
def own_stack(workdir: Path, attempts: int = 2) -> Iterator[Stack]:
    """`start_stack`, tried once more when a server cannot start, saying so: the free ports it
    picks can be taken meanwhile by another live session on this machine (the server's own
    log says "bind: address already in use"; seen once in 30 starts)."""
    for attempt in range(1, attempts + 1):
        folder = workdir / f"stack-{attempt}" if attempt > 1 else workdir / "stack"
        folder.mkdir()
        manager = start_stack(folder)
        try:
            stack = manager.__enter__()
        except RuntimeError as exc:
            if attempt == attempts:
                raise
            print(f"stack start {attempt} failed, again: {exc}")
            continue
        try:
            yield stack
        finally:
            manager.__exit__(None, None, None)
        return


@pytest.fixture
def crashable(tmp_path: Path, pcmu_tone: Path) -> Iterator[Crashable]:
    """Redis, livekit-server and the SIP service of this run alone (provisioned from the
    deploy files like the session's), our worker with its defaults (reconnect grace 10 s)
    named as their dispatch rule says, and a phone that calls it. A run of its own: the
    restarted server dispatches the room again, and a job that never saw the call would
    stay (the worker's no-call timeout) and be crashed by the next run."""
    missing = missing_binaries()
    if missing:
        msg = f"live tests need {', '.join(missing)} on PATH: .ci/install-livekit"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)

    async def create(stack: Stack) -> Provisioned:
        async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lkapi:
            return await provision(lkapi, uas_port=free_port())

    with own_stack(tmp_path) as stack:
        trunks = run_async(create(stack))
        with start_worker(stack, tmp_path / "worker") as worker:
            # Shown with a failed test's captured output (conftest's hook knows only the
            # session's stack).
            for name, path in (stack.logs | {"worker": worker.log}).items():
                print(f"{name} log: {path}")
            phone = Phone(f"127.0.0.1:{stack.sip_port}", trunks.uas_port, tmp_path, pcmu_tone)
            try:
                yield Crashable(stack, worker, phone)
            finally:
                # The jobs end with their rooms, so the worker's drain is quick.
                try:
                    run_async(delete_rooms(stack))
                except Exception as exc:  # a failed run may leave no server to ask
                    print(f"rooms not deleted: {type(exc).__name__}: {exc}")


def registrations(worker: Worker) -> int:
    return len(worker.records.all(where(message="registered worker")))


def webhook_ids(stack: Stack, event: str) -> set[str]:
    return {r.get("id", "") for r in stack.events.all(where(event=event))}


@pytest.mark.parametrize("run", runs(5))
async def test_answered_call_survives_a_server_crash_and_restart(
    run: int,
    crashable: Crashable,
) -> None:
    stack, worker = crashable.stack, crashable.worker
    keys = caller_keys(NUMBER, tier="gold")
    async with crashable.phone.call("caller_hangs_up", **keys) as sipp:
        started = await wait_started(sipp, worker, keys, WAIT_S)
        call_id, room = started["call_id"], started["room"]
        job = await worker.wait_for(where(message="received job request", room=room), WAIT_S)
        async with join(stack, room) as guest:
            await guest.publish_tone()
            await sipp.meanwhile(worker.wait_for_event("call.answered", WAIT_S, call_id=call_id))

            registered = registrations(worker)
            await asyncio.to_thread(stack.kill_livekit)
            await sipp.meanwhile(
                worker.wait_for(
                    where(event="livekit connection lost, reconnecting", room=room),
                    WAIT_S,
                    "the job's room reconnecting",
                )
            )
            await asyncio.to_thread(stack.restart_livekit)

            def resumed_or_ended(record: Record) -> bool:
                return record.get("call_id") == call_id and record.get("event") in (
                    "call.resumed",
                    "call.ended",
                )

            back = await sipp.meanwhile(
                worker.wait_for(resumed_or_ended, WAIT_S, f"call.resumed of {call_id}")
            )
            assert back["event"] == "call.resumed", f"the call ended instead: {back}"
            # The worker's own connection to LiveKit (/agent) is back too.
            await sipp.meanwhile(
                worker.wait_for(
                    lambda _: registrations(worker) > registered,
                    WAIT_S,
                    "the worker registered again",
                )
            )

            # Still tracked: the phone hangs up and the call ends once, by the caller.
            left_before = webhook_ids(stack, "participant_left")
            sipp.go()
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            # The call's job leaves once its events reached every handler.
            await stack.events.wait_for(
                lambda r: (
                    where(event="participant_left", **{"room.name": room})(r)
                    and r.get("participant", {}).get("identity") == f"agent-{job['job_id']}"
                    and r.get("id") not in left_before
                ),
                WAIT_S,
                f"the call's job leaving {room} after the call ended",
            )
            # Every job that started the call has ended it too (one, if all is well).
            await worker.wait_for(
                lambda _: (
                    len(worker.events(event="call.ended", call_id=call_id))
                    >= len(worker.events(event="call.started", call_id=call_id))
                ),
                WAIT_S,
                f"a call.ended of {call_id} for each call.started",
            )

    # Every way the call's story can go wrong, reported together.
    problems: list[str] = []
    events = worker.events(call_id=call_id)
    seen = [r["event"] for r in events]
    for once in ("call.started", "call.answered", "call.resumed", "call.ended"):
        if seen.count(once) != 1:
            problems.append(f"{seen.count(once)} x {once}")
    for ended in (r for r in events if r["event"] == "call.ended"):
        outcome = (ended["outcome"], ended["ended_by"], ended["disconnect_reason"])
        if outcome != ("completed", "caller", "CLIENT_INITIATED"):
            problems.append(f"call.ended {outcome}, not completed/caller/CLIENT_INITIATED")
    answered_at = seen.index("call.answered")
    back_to_ringing = [
        r
        for r in events[answered_at:]
        if r["event"] == "call.status_changed" and r["status"] in ("ringing", "dialing")
    ]
    if back_to_ringing:
        problems.append(f"the answered call went back to {back_to_ringing[0]['status']}")
    jobs = [
        j.get("job_id")
        for j in worker.records.all(where(message="received job request", room=room))
    ]
    assert not problems, (
        f"{'; '.join(problems)}\njob requests for {room} so far: {jobs}\n"
        f"events of {call_id}: {seen}\nworker log: {worker.log}"
    )
    assert worker.proc.poll() is None, "the worker died"
