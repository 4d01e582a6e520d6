"""A worker that dies loses no call: its calls' claims in the database, taken over by a live
worker that resumes them (the participant is still there) or ends them (it is not).

The real job and the real livekit-api client against the stand-ins (FakeLiveKit, the Twirp
server), on real SQLite and PostgreSQL; the live proof is tests/live/test_worker_lost.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from livekit import api
from sqlalchemy import select

from agent import tracker
from agent.clock import utc_now
from agent.database.engine import dispose_all
from agent.database.migrate import migrated_engine
from agent.errors import ConfigError
from agent.fleet import FleetConfig, fleet_config
from agent.fleet.claims import Claims
from agent.fleet.keeper import FleetKeeper
from agent.fleet.schema import FLEET, call_claims
from agent.logs import make_logger
from agent.settings import Settings, load_settings
from agent.standin import FakeLiveKit, Recorder, Reply, TwirpError, TwirpServer
from agent.testing.harness import OneJob
from agent.testing.polling import eventually
from tests.call_log_support import PG_URL_ENV, reset_postgres

KEY, SECRET = "devkey", "secret-of-at-least-32-bytes-for-hs256"
ROOM = "call-room"
ANSWERED = {
    "sip.callID": "SCL_lost",
    "sip.callStatus": "active",
    "sip.phoneNumber": "+15557654321",
    "sip.trunkPhoneNumber": "+15550100000",
    "sip.trunkID": "ST_in",
    "sip.ruleID": "SDR_1",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'calls.db'}"
    elif url := os.environ.get(PG_URL_ENV):
        reset_postgres(url)
        yield url
    elif os.environ.get("CI"):
        pytest.fail(f"{PG_URL_ENV} is not set: .ci/run must start PostgreSQL and export it")
    else:
        pytest.skip(f"set {PG_URL_ENV} to a scratch PostgreSQL database")
    dispose_all()


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit(api_key=KEY, api_secret=SECRET) as fake:
        yield fake


@pytest.fixture
async def twirp() -> AsyncIterator[TwirpServer]:
    async with TwirpServer(KEY, SECRET) as server:
        yield server


def settings(db_url: str) -> Settings:
    return load_settings(handlers=("store",), db_url=db_url, hangup_grace_s=0.2)


def fleet(db_url: str, worker_id: str) -> FleetConfig:
    return FleetConfig(
        worker_id=worker_id,
        db_url=db_url,
        agent_name="sip-agent",
        heartbeat_s=0.1,
        lease_s=0.5,
        host="test-host",
        pid=1,
    )


def keeper(db_url: str, twirp: TwirpServer, worker_id: str, *handlers: Recorder) -> FleetKeeper:
    return FleetKeeper(
        fleet(db_url, worker_id),
        settings(db_url),
        lambda: list(handlers),
        make_logger(settings(db_url)),
        livekit=lambda: api.LiveKitAPI(twirp.url, KEY, SECRET),
    )


def claims(db_url: str) -> Claims:
    return Claims(migrated_engine(db_url, FLEET))


def claim_rows(db_url: str) -> list[tuple[str, str, int]]:
    with claims(db_url).engine.connect() as conn:
        rows = conn.execute(
            select(call_claims.c.call_key, call_claims.c.worker_id, call_claims.c.seq)
        )
        return [tuple(row) for row in rows]


def held_by_a_lost_worker(db_url: str) -> tracker.CallState:
    """An answered call (started, answered: seq 2) claimed by a worker that never beats."""
    state, _ = tracker.start(
        ANSWERED, room=ROOM, identity="caller", participant_sid="PA_old", now=utc_now()
    )
    claims(db_url).write("lost-worker", [state])
    return state


async def test_a_job_claims_its_calls_before_any_handler_sees_their_events(
    livekit: FakeLiveKit, db_url: str
) -> None:
    job = OneJob(livekit, ROOM, settings(db_url), fleet=fleet(db_url, "w1"))
    await job.start()
    job.room.join("caller", attributes={**ANSWERED, "sip.callStatus": "ringing"})
    (started,) = await job.until("call.started")
    assert claim_rows(db_url) == [(started.call.key, "w1", 1)]
    job.room.set_attributes("caller", {"sip.callStatus": "active"})
    (answered,) = await job.until("call.answered")
    # The claim holds the seq of every event a handler has seen.
    (row,) = claim_rows(db_url)
    assert row[2] >= answered.seq == 3
    job.room.leave("caller")
    await job.until("call.ended")
    await job.ended()
    await eventually(lambda: not claim_rows(db_url), 5, "claim released after the call ended")


async def test_a_lost_workers_call_resumes_in_a_live_workers_job(
    livekit: FakeLiveKit, twirp: TwirpServer, db_url: str
) -> None:
    lost = held_by_a_lost_worker(db_url)
    livekit.room(ROOM).join("caller", attributes=ANSWERED)
    listed = {"participants": [{"identity": "caller", "attributes": ANSWERED}]}
    twirp.script("RoomService/ListParticipants", Reply(listed), Reply(listed))
    # Two live workers sweep at once: one takes the call.
    taken = await asyncio.gather(
        keeper(db_url, twirp, "live-1").tick(), keeper(db_url, twirp, "live-2").tick()
    )
    assert sorted(taken) == [0, 1]
    (dispatch,) = twirp.sent("AgentDispatchService/CreateDispatch")
    assert dispatch == {"agent_name": "sip-agent", "room": ROOM}
    winner = "live-1" if taken[0] else "live-2"

    job = OneJob(livekit, ROOM, settings(db_url), fleet=fleet(db_url, winner))
    await job.start()
    livekit.room(ROOM).set_attributes("caller", {"sip.callStatus": "hangup"})
    livekit.room(ROOM).leave("caller")
    (ended,) = await job.until("call.ended")
    # The same call, its next seq, and no second call.started.
    assert job.types() == ["call.status_changed", "call.ended"]
    assert ended.call.key == lost.call.key and ended.call_id == "SCL_lost"
    assert [seq for _, seq in job.recorder.seen] == [lost.seq + 1, lost.seq + 2]
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert ended.talk_s > 0
    await job.ended()
    await eventually(lambda: not claim_rows(db_url), 5, "claim released after the call ended")


async def test_a_lost_call_whose_room_is_gone_ends_as_worker_lost(
    twirp: TwirpServer, db_url: str
) -> None:
    lost = held_by_a_lost_worker(db_url)
    twirp.script("RoomService/ListParticipants", TwirpError(404, "not_found", "room not found"))
    recorder = Recorder()
    assert await keeper(db_url, twirp, "live", recorder).tick() == 1
    (ended,) = recorder.ended()
    assert recorder.types() == ["call.ended"]
    assert ended.call.key == lost.call.key and ended.seq == lost.seq + 1
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "system",
        "WORKER_LOST",
    )
    assert not twirp.sent("AgentDispatchService/CreateDispatch")
    assert claim_rows(db_url) == []


async def test_a_live_workers_calls_are_left_alone(twirp: TwirpServer, db_url: str) -> None:
    state, _ = tracker.start(
        ANSWERED, room=ROOM, identity="caller", participant_sid="PA_1", now=utc_now()
    )
    busy = keeper(db_url, twirp, "busy")
    await busy.tick()  # it beats
    claims(db_url).write("busy", [state])
    assert await keeper(db_url, twirp, "other").tick() == 0
    assert claim_rows(db_url) == [(state.call.key, "busy", 2)]
    assert not twirp.sent("RoomService/ListParticipants")


def test_a_lease_shorter_than_two_heartbeats_stops_start_up(db_url: str) -> None:
    bad = load_settings(db_url=db_url, fleet_heartbeat_s=2, fleet_lease_s=3)
    with pytest.raises(ConfigError, match=r"^invalid setting SIP_AGENT_FLEET_LEASE_S: "):
        fleet_config(bad, ("log", "store"))
    assert fleet_config(bad, ("log",)) is None  # no database, no fleet
