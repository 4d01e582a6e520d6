"""`python -m agent start` fails fast, in one line, when it cannot work."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.standin import AgentEndpoint

SECRET = "test-secret-0123456789abcdef0123456789"
ROOT = Path(__file__).resolve().parents[1]


async def run_start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real command in a clean environment and working directory (no .env)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
    base["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "start",
        cwd=tmp_path,
        env=base | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sip-agent: ")
    return lines[0]


LIVEKIT = {"LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": SECRET}


async def test_missing_credentials(tmp_path: Path) -> None:
    line = one_line(await run_start(tmp_path, LIVEKIT_URL="ws://127.0.0.1:9"))
    assert (
        line == "sip-agent: missing setting LIVEKIT_API_KEY: set it in the environment or in .env"
    )


async def test_unreachable_livekit(tmp_path: Path) -> None:
    line = one_line(await run_start(tmp_path, LIVEKIT_URL="ws://127.0.0.1:9", **LIVEKIT))
    assert line.startswith("sip-agent: cannot reach LiveKit at ws://127.0.0.1:9:")


async def test_wrong_secret_is_refused_without_printing_it(tmp_path: Path) -> None:
    async with AgentEndpoint(api_key="devkey", api_secret=SECRET) as endpoint:
        wrong = "wrong-secret-0123456789abcdef01234567"
        result = await run_start(
            tmp_path, LIVEKIT_URL=endpoint.url, LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET=wrong
        )
    line = one_line(result)
    assert "refused LIVEKIT_API_KEY/LIVEKIT_API_SECRET (HTTP 401)" in line
    assert wrong not in result.stderr + result.stdout


async def test_bad_rules_file_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\non = "call.started"\ndo = "teleport"\n')
    line = one_line(
        await run_start(
            tmp_path,
            LIVEKIT_URL="ws://127.0.0.1:9",
            SIP_AGENT_HANDLERS="router",
            SIP_AGENT_RULES=str(rules),
            **LIVEKIT,
        )
    )
    assert f"rules file {rules}: rule[1].do: unknown action 'teleport'" in line


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SIP_AGENT_HANDLERS": "log,nowhere.mod:handler"}, "handler 'nowhere.mod:handler'"),
        ({"SIP_AGENT_MAX_CALLS": "many"}, "invalid setting SIP_AGENT_MAX_CALLS"),
        ({"LIVEKIT_URL": "livekit.example.com"}, "invalid setting LIVEKIT_URL"),
        (
            {"SIP_AGENT_WEBHOOK_URLS": "http://127.0.0.1:99999/hook"},
            "invalid setting SIP_AGENT_WEBHOOK_URLS: URL 1 (127.0.0.1): the port must be",
        ),
        (
            {"SIP_AGENT_WEBHOOK_EVENTS": "call.started,call.begun"},
            "invalid setting SIP_AGENT_WEBHOOK_EVENTS: unknown event type 'call.begun'",
        ),
        ({"SIP_AGENT_HANDLERS": "log,,log"}, "invalid setting SIP_AGENT_HANDLERS: an empty item"),
        ({"SIP_AGENT_NAME": " "}, "invalid setting SIP_AGENT_NAME: must not be blank"),
        (
            {"SIP_AGENT_HANDLERS": "log,broken_handler:Broken"},
            "handler 'broken_handler:Broken' failed to start: no CRM_TOKEN in the environment",
        ),
    ],
)
async def test_broken_config_is_one_line(tmp_path: Path, env: dict, expected: str) -> None:
    """Each setting or handler that cannot work stops start-up in one line naming it."""
    (tmp_path / "broken_handler.py").write_text(
        "class Broken:\n"
        "    name = 'broken'\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('no CRM_TOKEN in the environment')\n"
    )
    line = one_line(
        await run_start(tmp_path, **({"LIVEKIT_URL": "ws://127.0.0.1:9"} | LIVEKIT | env))
    )
    assert expected in line


async def test_rules_with_a_handler_list_without_the_router(tmp_path: Path) -> None:
    """Rules that would never run stop start-up, naming both settings."""
    rules = ROOT / "examples" / "routing.toml"
    line = one_line(
        await run_start(
            tmp_path,
            LIVEKIT_URL="ws://127.0.0.1:9",
            SIP_AGENT_HANDLERS="log",
            SIP_AGENT_RULES=str(rules),
            **LIVEKIT,
        )
    )
    assert "SIP_AGENT_RULES is set but SIP_AGENT_HANDLERS=log leaves out 'router'" in line


async def test_livekit_url_with_a_password_is_refused_without_it(tmp_path: Path) -> None:
    """user:password in LIVEKIT_URL stops start-up; the password is printed nowhere."""
    result = await run_start(tmp_path, LIVEKIT_URL="wss://me:hunter2pass@lk.example.com", **LIVEKIT)
    line = one_line(result)
    assert line.startswith("sip-agent: invalid setting LIVEKIT_URL: must not contain a user")
    assert "hunter2pass" not in result.stderr + result.stdout
