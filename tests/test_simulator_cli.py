"""`python -m agent simulate` plays calls with no LiveKit account, and says when they fail."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.simulator import shipped
from agent.store import CallQuery, CallStore

ROOT = Path(__file__).resolve().parents[1]


def simulate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a clean environment and directory: no .env, no credentials."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
    return subprocess.run(
        [sys.executable, "-m", "agent", "simulate", *args],
        cwd=tmp_path,
        env=base | {"PYTHONPATH": str(ROOT)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plays_a_shipped_scenario_by_name(tmp_path: Path) -> None:
    """The README's first command: events as they happen, then a summary per call."""
    result = simulate(tmp_path, "twilio-inbound-answered", "--speed", "0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("call.started") < out.index("call.answered") < out.index("call.ended")
    assert "== caller: completed, ended by caller (CLIENT_INITIATED), 34.0s in all" in out
    assert out.rstrip().endswith("== twilio-inbound-answered: 1 call(s), as expected")
    assert "+15551234567" not in out  # numbers are masked by default


def test_json_log_lines(tmp_path: Path) -> None:
    """With SIP_AGENT_LOG_FORMAT=json the handler lines are what `start` prints."""
    result = simulate(tmp_path, "outbound-busy", "--speed", "0", SIP_AGENT_LOG_FORMAT="json")
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    ended = [line for line in lines if line["event"] == "call.ended"]
    assert [(e["outcome"], e["ended_by"]) for e in ended] == [("busy", "callee")]


def test_failed_expectation_exits_1(tmp_path: Path) -> None:
    """A call that does not end as `[expect]` says is reported and fails the run."""
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(
        'steps = [{ join = "c" }, { leave = "c" }]\n'
        '[calls.c]\nstatus = "ringing"\n'
        'attributes = { "sip.callID" = "SCL_x", "sip.ruleID" = "R" }\n'
        '[expect.c]\noutcome = "completed"\n'
    )
    result = simulate(tmp_path, str(scenario), "--speed", "0")
    assert result.returncode == 1
    assert "!! c: outcome no-answer, expected completed" in result.stdout


def test_malformed_file_is_one_line(tmp_path: Path) -> None:
    """A broken file stops before playing, in one line naming file, step and problem."""
    scenario = tmp_path / "broken.toml"
    scenario.write_text('steps = [{ wait = "soon" }]\n')
    result = simulate(tmp_path, str(scenario))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sip-agent: {scenario}: steps[1].wait: Input should be a valid number (got 'soon')"
    ]


def test_list(tmp_path: Path) -> None:
    """--list names every shipped scenario with its description."""
    result = simulate(tmp_path, "--list")
    assert result.returncode == 0
    assert result.stdout.startswith("agent-hangs-up ")
    assert len(result.stdout.splitlines()) == len(shipped())


@pytest.mark.parametrize("speed", ["-1", "nan", "0.0000001", "inf"])
def test_a_speed_that_cannot_play_is_one_line(tmp_path: Path, speed: str) -> None:
    """Negative, NaN, infinite or tiny --speed is refused naming --speed, before playing."""
    result = simulate(tmp_path, "twilio-inbound-answered", "--speed", speed)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sip-agent: --speed must be 0 (no waiting) or from 0.1 to 1000 (got {float(speed):g})"
    ]
    assert result.stdout == ""


LONG_CALL = """
description = "A call that talks for an hour."
steps = [{ join = "caller" }, { set = "caller", status = "active" }, { wait = 3600 }]

[calls.caller]
room = "call-long"
status = "ringing"
attributes = { "sip.callID" = "SCL_long", "sip.ruleID" = "SDR_1", "sip.trunkID" = "ST_1" }

[expect.caller]
outcome = "completed"
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_calls_still_up(tmp_path: Path, signum: int, code: int) -> None:
    """SIGTERM (a container stopping) is as clean as Ctrl-C: the call still up ends with its
    job, in the log and in the call log, and the exit code says which signal it was."""
    (tmp_path / "long.toml").write_text(LONG_CALL)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
    env = base | {
        "PYTHONPATH": str(ROOT),
        "SIP_AGENT_LOG_FORMAT": "json",
        "SIP_AGENT_DB_URL": f"sqlite:///{tmp_path}/calls.db",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "simulate", "long.toml", "--speed", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # blocks on the process's own output: no sleep, no poll
        lines.append(line)
        if '"call.answered"' in line:
            break
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=30)
    lines += rest.splitlines()
    assert proc.returncode == code, lines
    ended = [json.loads(line) for line in lines if '"event": "call.ended"' in line]
    assert [(e["disconnect_reason"], e["ended_by"]) for e in ended] == [("JOB_ENDED", "system")]
    assert any(f"stopped by {signal.Signals(signum).name}" in line for line in lines)
    store = CallStore.open(f"sqlite:///{tmp_path}/calls.db")
    (call,) = store.calls(CallQuery())
    assert call["outcome"] is not None


SLOW_HANDLER = """
import asyncio

class Slow:
    name = "slow"

    async def handle(self, event):
        await asyncio.sleep(0.9)  # within the 1 s handler timeout, every time

    async def aclose(self):
        pass
"""


def test_a_slow_handler_within_its_timeout_never_breaks_the_play(tmp_path: Path) -> None:
    """Every event takes 0.9 s under a 1 s timeout, all of them queued at once (speed 0):
    the play waits for delivery, the call ends as expected, no traceback."""
    (tmp_path / "slowh.py").write_text(SLOW_HANDLER)
    result = simulate(
        tmp_path,
        "twilio-inbound-answered",
        "--speed",
        "0",
        PYTHONPATH=f"{ROOT}:{tmp_path}",
        SIP_AGENT_HANDLERS="log,slowh:Slow",
        SIP_AGENT_HANDLER_TIMEOUT_S="1",
        SIP_AGENT_HANGUP_GRACE_S="0.2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "TimeoutError" not in result.stderr
    assert "completed, ended by caller" in result.stdout
