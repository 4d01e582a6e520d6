"""examples/health.toml acting on the stand-in: a voice agent that goes quiet gets the call
hung up with a reason; one that never speaks gets the caller transferred to a human."""

from __future__ import annotations

from pathlib import Path

from agent.settings import load_settings
from agent.simulator.pytest_plugin import SipSimulator
from agent.standin import FakeLiveKit, TwirpServer
from agent.testing.harness import OneJob
from tests.test_control import livekit, twirp  # noqa: F401 (fixtures: the stand-in and its API)

RULES = Path(__file__).resolve().parent.parent / "examples" / "health.toml"
CALLER = {"sip.callID": "SCL_deadair", "sip.callStatus": "ringing", "sip.ruleID": "SDR_1"}
AGENT = {"lk.agent.name": "support-agent", "lk.agent.state": "listening"}


async def test_dead_air_hangs_up_with_a_reason(
    livekit: FakeLiveKit,  # noqa: F811
    twirp: TwirpServer,  # noqa: F811
) -> None:
    settings = load_settings(
        _env_file=None, rules=RULES, handlers=("router",), silence_s=0.3, action_timeout_s=2.0
    )
    job = OneJob(livekit, "call-dead-air", settings)
    job.room.join("voice-agent", kind="AGENT", attributes=AGENT)
    job.room.join("sip_caller", attributes=CALLER)
    await job.start()
    job.room.set_attributes("sip_caller", {"sip.callStatus": "active"})
    job.room.set_attributes("voice-agent", {"lk.agent.state": "speaking"})
    job.room.set_attributes("voice-agent", {"lk.agent.state": "listening"})
    (silence,) = await job.until("call.silence")
    (ended,) = await job.until("call.ended")
    assert (ended.ended_by, ended.disconnect_reason) == ("agent", "PARTICIPANT_REMOVED")
    assert twirp.sent("RoomService/RemoveParticipant") == [
        {"room": "call-dead-air", "identity": "sip_caller"}
    ]
    assert ended.health.long_silences == 1 and ended.health.agent_first_speech_s is not None
    assert silence.silent_s >= 0.3
    assert "call.agent_missing" not in job.types()
    assert await job.ended() == "all calls ended"


async def test_the_shipped_scenario_rescues_a_call_whose_agent_never_speaks(
    sip_simulator: SipSimulator,
) -> None:
    result = await sip_simulator.play("agent-never-speaks", handlers=["log"])
    events = result["caller"].events
    missing = next(e for e in events if e.type == "call.agent_missing")
    assert missing.agents == ("agent-AJ_support",) and missing.waited_s == 10
    # 10 s after the answer, on scenario time.
    assert (missing.at - missing.call.first_seen).total_seconds() == 11
    transferred = next(e for e in events if e.type == "call.transfer_succeeded")
    assert transferred.to == "tel:+15551230000"
    health = result["caller"].ended.health
    assert health.agent_missing and health.agent_name == "support-agent"
    assert (health.agent_join_s, health.agent_audio_s, health.answer_s) == (0.0, 1.0, 1.0)
    assert health.agent_first_speech_s is None and health.longest_silence_s == 12.0
