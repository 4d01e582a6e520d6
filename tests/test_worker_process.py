"""The real worker process: registers under the agent name, takes a job, logs the call."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit.protocol import agent

from agent.standin import AgentEndpoint
from agent.testing.polling import eventually, stop_process

API_KEY = "devkey"
API_SECRET = "test-secret-0123456789abcdef0123456789"
ROOT = Path(__file__).resolve().parents[1]
TWILIO_INBOUND = {
    "sip.callID": "SCL_proc1",
    "sip.callStatus": "ringing",
    "sip.phoneNumber": "+15551230001",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.trunkID": "ST_twilio",
    "sip.ruleID": "SDR_main",
    "sip.twilio.callSid": "CA_process",
}


@pytest.fixture
async def endpoint() -> AsyncIterator[AgentEndpoint]:
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as ep:
        yield ep


def worker_env(endpoint: AgentEndpoint, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
    return env | {
        "PYTHONPATH": str(ROOT),
        "LIVEKIT_URL": endpoint.url,
        "LIVEKIT_API_KEY": API_KEY,
        "LIVEKIT_API_SECRET": API_SECRET,
        "SIP_AGENT_NAME": "phones-e2e",
        "SIP_AGENT_HEALTH_PORT": "0",
        "SIP_AGENT_HANGUP_GRACE_S": "1",
        "TEST_ROOM": "call-room-7",
        "TEST_ATTRIBUTES": json.dumps(TWILIO_INBOUND),
        **extra,
    }


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "worker_with_fake_livekit.py"), "start"],
            env=env,
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def call_lines(log_path: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in log_path.read_text(errors="replace").splitlines()
        if line.startswith("{") and '"logger": "sip-agent"' in line
    ]


async def test_worker_takes_a_dispatched_call_and_logs_it(
    endpoint: AgentEndpoint, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    proc = start_worker(worker_env(endpoint), log_path)
    try:
        registered = await endpoint.wait_for_worker("phones-e2e", timeout=30)
        assert registered.request.agent_name == "phones-e2e"
        assert registered.request.type == agent.JobType.JT_ROOM

        job = await endpoint.dispatch("phones-e2e", "call-room-7")
        assert job.availability.available
        await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=30)
    finally:
        await stop_process(proc)
    output = log_path.read_text(errors="replace")
    calls = call_lines(log_path)
    assert [c["event"] for c in calls] == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ], output
    assert {c["call_id"] for c in calls} == {"SCL_proc1"}
    assert {c["twilio_call_sid"] for c in calls} == {"CA_process"}
    assert {c["room"] for c in calls} == {"call-room-7"}
    ended = calls[-1]
    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert ended["duration_s"] > 0.4 and ended["from"] == "********0001"
    assert API_SECRET not in output


async def test_sigterm_drains_a_live_call(endpoint: AgentEndpoint, tmp_path: Path) -> None:
    """SIGTERM mid-call: the worker takes no new call but lets the live one end by itself."""
    log_path = tmp_path / "worker.log"
    proc = start_worker(worker_env(endpoint, TEST_TALK_S="3"), log_path)
    try:
        await endpoint.wait_for_worker("phones-e2e", timeout=30)
        job = await endpoint.dispatch("phones-e2e", "call-room-7")
        await eventually(
            lambda: any(c["event"] == "call.answered" for c in call_lines(log_path)),
            30,
            "call.answered in the worker's log",
        )
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert proc.poll() is None, "the worker left with a call still up"
        await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=30)
        await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    ended = call_lines(log_path)[-1]
    assert ended["event"] == "call.ended"
    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert proc.returncode == 0
    # A clean shutdown says nothing alarming (it once logged `Unclosed client session`).
    errors = [line for line in log_path.read_text().splitlines() if '"ERROR"' in line]
    assert errors == []
