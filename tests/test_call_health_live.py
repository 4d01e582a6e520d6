"""Call health in a running job: the room's agent facts (kind AGENT joins and leaves,
`lk.agent.state`, audio tracks) reach every call of the room as health events and end up
in `call.ended`'s health block. Real entrypoint, real rtc.Room, on the SDK stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.events import CallEnded
from agent.settings import load_settings
from agent.standin import FakeLiveKit
from agent.testing.harness import OneJob

CALLER = {"sip.callID": "SCL_health1", "sip.callStatus": "ringing", "sip.ruleID": "SDR_1"}
AGENT = {"lk.agent.name": "support-agent", "lk.agent.state": "initializing"}


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit() as fake:
        yield fake


@pytest.fixture
async def job(livekit: FakeLiveKit) -> AsyncIterator[OneJob]:
    settings = load_settings(
        _env_file=None, silence_s=0.3, agent_timeout_s=0.4, slow_response_s=0.05
    )
    one = OneJob(livekit, "call-health", settings)
    one.room.join("sip_caller", attributes=CALLER)
    await one.start()
    yield one
    if one.room.participants():
        one.job.shutdown("test over")
    await one.ended()


def state(job: OneJob, value: str) -> None:
    job.room.set_attributes("voice-agent", {"lk.agent.state": value})


async def test_an_agent_that_joins_and_never_speaks_is_missing(job: OneJob) -> None:
    job.room.join("voice-agent", kind="AGENT", attributes=AGENT)
    (joined,) = await job.until("call.agent_joined")
    assert (joined.identity, joined.agent_name) == ("voice-agent", "support-agent")
    job.room.publish("voice-agent", "audio")
    job.room.set_attributes("sip_caller", {"sip.callStatus": "active"})
    state(job, "listening")
    (missing,) = await job.until("call.agent_missing")
    assert missing.agents == ("voice-agent",) and missing.waited_s == 0.4
    (silence,) = await job.until("call.silence")
    assert silence.silent_s >= 0.3
    job.room.leave("voice-agent", "CLIENT_INITIATED")
    (left,) = await job.until("call.agent_left")
    assert left.reason == "CLIENT_INITIATED"
    job.room.leave("sip_caller")
    (ended,) = await job.until("call.ended")
    health = ended.health
    assert health.agent_missing and health.agent_left_early
    assert health.agent_name == "support-agent" and health.agents_joined == 1
    assert health.agent_audio_s is not None and health.agent_first_speech_s is None
    assert health.long_silences == 1 and health.longest_silence_s >= 0.3
    # Raised once per call and once per stretch.
    assert job.types().count("call.agent_missing") == 1
    assert job.types().count("call.silence") == 1


async def test_turns_slow_responses_and_the_end_of_a_silence(job: OneJob) -> None:
    job.room.set_attributes("sip_caller", {"sip.callStatus": "active"})
    await job.until("call.answered")
    job.room.join("voice-agent", kind="AGENT", attributes={**AGENT, "lk.agent.state": "listening"})
    (silence,) = await job.until("call.silence")
    state(job, "speaking")
    (silence_ended,) = await job.until("call.silence_ended")
    assert silence_ended.since == silence.since and silence_ended.length_s >= 0.3
    state(job, "listening")
    state(job, "thinking")
    await asyncio.sleep(0.1)  # the agent's response time: the script, not a wait for a result
    state(job, "speaking")
    (slow,) = await job.until("call.slow_response")
    assert slow.identity == "voice-agent" and slow.response_s >= 0.1
    assert slow.agent_name == "support-agent"
    job.room.leave("sip_caller")
    (ended,) = await job.until("call.ended")
    assert isinstance(ended, CallEnded) and ended.health is not None
    assert ended.health.turns == 1 and not ended.health.agent_missing
    assert ended.health.agent_first_speech_s is not None
    assert "call.agent_missing" not in job.types()


async def test_an_agent_already_in_the_room_is_told_to_each_new_call(job: OneJob) -> None:
    job.room.join("voice-agent", kind="AGENT", attributes=AGENT)
    await job.until("call.agent_joined")
    job.room.join("sip_second", attributes={**CALLER, "sip.callID": "SCL_health2"})
    await job.until("call.agent_joined", count=2)
    calls = {e.call.call_id for e in job.of("call.agent_joined")}
    assert calls == {"SCL_health1", "SCL_health2"}
