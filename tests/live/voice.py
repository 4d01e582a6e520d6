"""A real livekit-agents voice agent (tests/live/voice_agent.py) as its own process, as users run
theirs: `python voice_agent.py start`, its JSON log read like our worker's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .provision import Line
from .records import where
from .stack import Stack, clean_env
from .voice_agent import VoiceScript
from .worker import REGISTER_TIMEOUT_S, Worker

VOICE_AGENT = Path(__file__).resolve().parent / "voice_agent.py"


@dataclass(frozen=True)
class VoiceLine:
    """A number whose calls get our worker and a voice agent, both dispatched by the rule."""

    line: Line
    worker: Worker
    """`python -m agent start` for this line alone."""
    agent: Worker
    """The voice agent's process (its log, its JSON records)."""
    script: VoiceScript
    """What the voice agent does, with its agent name."""


@contextmanager
def start_voice_agent(stack: Stack, workdir: Path, script: VoiceScript) -> Iterator[Worker]:
    """The voice agent playing `script`, registered under `script.name` when the block starts,
    stopped (SIGTERM) when it ends. Its log: `agent.log`, its JSON lines `agent.records`."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = clean_env() | script.env()
    env |= {
        "LIVEKIT_URL": stack.ws_url,
        "LIVEKIT_API_KEY": stack.api_key,
        "LIVEKIT_API_SECRET": stack.api_secret,
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(VOICE_AGENT), "start"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    agent = Worker(proc, workdir / "voice-agent.log", None)
    try:
        agent.records.wait_for_sync(
            where(message="registered worker", agent_name=script.name),
            REGISTER_TIMEOUT_S,
            "the voice agent's registration",
        )
        yield agent
    finally:
        agent.stop()
