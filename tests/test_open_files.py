"""Enough open files for SIP_AGENT_MAX_CALLS (agent/open_files.py): the soft limit is raised
to the hard one at start, and a hard limit too small for the setting stops start-up, naming
it. Each case runs in a process of its own, whose limits it may lower."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from agent.open_files import needed


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    done = run(
        f"""
        import resource
        from agent.open_files import ensure_open_files
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, {needed(200)}))
        print(ensure_open_files(200), resource.getrlimit(resource.RLIMIT_NOFILE))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == str(needed(200))


def test_a_hard_limit_too_small_for_max_calls_names_the_setting() -> None:
    done = run(
        """
        import os, resource
        from agent.assembly import Mode, assemble
        from agent.errors import ConfigError
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        os.environ.update(LIVEKIT_URL="ws://127.0.0.1:7880", LIVEKIT_API_KEY="k",
                          LIVEKIT_API_SECRET="s", SIP_AGENT_MAX_CALLS="200")
        try:
            assemble(Mode.START)
        except ConfigError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith("invalid setting SIP_AGENT_MAX_CALLS: 200 calls need ~8200")
    assert "may open 1024" in message and "SIP_AGENT_MAX_CALLS to 20 or less" in message
    assert "\n" not in message


def test_what_the_limit_carries_starts() -> None:
    done = run(
        """
        import os, resource
        from agent.assembly import Mode, assemble
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        os.environ.update(LIVEKIT_URL="ws://127.0.0.1:7880", LIVEKIT_API_KEY="k",
                          LIVEKIT_API_SECRET="s", SIP_AGENT_MAX_CALLS="20")
        print(assemble(Mode.START).settings.max_calls)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "20"
