"""A real livekit-agents voice agent (tests/live/voice_agent.py) as its own process, as users run
theirs: `python voice_agent.py start`, its JSON log read like our worker's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .listener import Facts, listen
from .provision import Line
from .records import Record, where
from .sipp import Bursts, Phone, SippCall, caller_keys
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


@dataclass(frozen=True)
class VoiceCall:
    """A call from the test phone, playing `bursts`, to a voice line; `facts` is what a
    participant that subscribes to nothing saw of it from the caller's joining on."""

    sipp: SippCall
    """The phone: `sipp.go()` hangs up (scenario caller_hangs_up)."""
    keys: dict[str, str]
    room: str
    facts: Facts
    bursts: Bursts

    def answered_at(self) -> float:
        """When the listener saw the call answered (`sip.callStatus` active): the caller's
        audio starts then, so burst n ends near `answered_at() + bursts.burst(n)[1]`."""
        return next(
            float(r["t"])
            for r in self.facts.all()
            if r["fact"] == "attributes" and r["changed"].get("sip.callStatus") == "active"
        )


def _caller_joined(call_sid: str) -> Callable[[Record], bool]:
    def predicate(record: Record) -> bool:
        attributes = record["participant"].get("attributes", {})
        return bool(
            record["event"] == "participant_joined"
            and attributes.get("sip.twilio.callSid") == call_sid
        )

    return predicate


@asynccontextmanager
async def voice_call(
    stack: Stack, phone: Phone, voice: VoiceLine, bursts: Bursts, workdir: Path
) -> AsyncIterator[VoiceCall]:
    """Call `voice`'s number from the phone, which plays `bursts` once answered; a listener
    joins the room as the caller's participant joins it (the server's webhook: before the
    agents, which the room's creation dispatched, have answered)."""
    keys = caller_keys(voice.line.number)
    audio = bursts.write(workdir / "bursts.pcmu")
    async with phone.call_playing("caller_hangs_up", audio, **keys) as sipp:
        joined = await sipp.meanwhile(
            stack.events.wait_for(_caller_joined(keys["call_sid"]), 30, "the caller joining")
        )
        room = joined["room"]["name"]
        async with listen(stack, room) as facts:
            yield VoiceCall(sipp, keys, room, facts, bursts)
