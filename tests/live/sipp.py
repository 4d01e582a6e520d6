"""A SIP phone for the live tests: sipp running one of our scenarios (tests/live/sipp/*.xml).

Scenarios that wait for the test (e.g. "hang up now") stop at `<recv request="INFO"/>`;
`SippCall.go()` sends that INFO with the call's Call-ID to sipp's own port, and sipp takes it
as the next message of the call. No timing guesses: the test says when.
"""

from __future__ import annotations

import asyncio
import math
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .stack import HOST, free_port, free_udp_range, tail

T = TypeVar("T")
SCENARIOS = Path(__file__).resolve().parent / "sipp"
SIPP_TIMEOUT_S = 60
AUDIO_FILE = "tone.pcmu"
"""Scenarios stream this raw PCMU file from their working directory: sipp reads it when it
loads the scenario, before `-key` values exist, so its name is fixed."""


def pcmu_tone(seconds: float, hz: float = 440.0) -> bytes:
    """A raw PCMU (G.711 mu-law, 8 kHz) tone."""
    samples = (
        int(8000 * math.sin(2 * math.pi * hz * i / 8000)) for i in range(int(8000 * seconds))
    )
    return bytes(_ulaw(s) for s in samples)


def write_pcmu_tone(path: Path, seconds: float = 1.0, hz: float = 440.0) -> Path:
    path.write_bytes(pcmu_tone(seconds, hz))
    return path


@dataclass(frozen=True)
class Bursts:
    """Speech-like audio with known gaps: `gap_s` of digital silence, then `burst_s` of tone,
    over and over (the scenarios loop their file). Times count from the first RTP packet."""

    burst_s: float = 1.5
    gap_s: float = 3.5

    @property
    def period_s(self) -> float:
        return self.burst_s + self.gap_s

    def burst(self, n: int) -> tuple[float, float]:
        """When the `n`-th burst (from 0) starts and ends."""
        start = n * self.period_s + self.gap_s
        return start, start + self.burst_s

    def write(self, path: Path) -> Path:
        silence = bytes([_ulaw(0)]) * int(8000 * self.gap_s)
        path.write_bytes(silence + pcmu_tone(self.burst_s))
        return path


def _ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, min(7, magnitude.bit_length() - 8))
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


@dataclass(frozen=True)
class SippResult:
    returncode: int
    """0: the call went as the scenario says; 1: it did not (see `describe()`)."""
    workdir: Path

    def describe(self) -> str:
        """sipp's own errors and the last SIP messages it sent and received."""
        errors = "\n".join(tail(p, 20) for p in self.workdir.glob("*_errors.log"))
        messages = "\n".join(tail(p, 60) for p in self.workdir.glob("*_messages.log"))
        return (
            f"sipp exited {self.returncode} (files in {self.workdir})\n"
            f"errors:\n{errors}\nlast messages:\n{messages}"
        )


class SippCall:
    """One sipp process placing (or taking) one call."""

    def __init__(
        self, proc: asyncio.subprocess.Process, call_id: str | None, port: int, workdir: Path
    ):
        self.proc = proc
        self.call_id = call_id
        """The SIP Call-ID of a call sipp places (LiveKit's `sip.callIDFull`); None when sipp
        takes the call (LiveKit chooses it)."""
        self.port = port
        self.workdir = workdir

    def go(self) -> None:
        """Let a scenario waiting at `<recv request="INFO"/>` go on."""
        assert self.call_id is not None, "go() needs the Call-ID of a call sipp placed"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            local = sock.getsockname()[1]
            info = (
                f"INFO sip:sipp@{HOST}:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:test@{HOST}:{local}>;tag=go\r\n"
                f"To: <sip:sipp@{HOST}:{self.port}>\r\n"
                f"Call-ID: {self.call_id}\r\n"
                "CSeq: 1 INFO\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            sock.sendto(info.encode(), (HOST, self.port))

    async def wait(self, timeout: float = SIPP_TIMEOUT_S) -> SippResult:
        """sipp's exit, once its call is over."""
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
        return SippResult(code, self.workdir)

    async def meanwhile(self, awaitable: Awaitable[T]) -> T:
        """`awaitable`'s result; fails at once, with sipp's story, if sipp exits first."""
        task = asyncio.ensure_future(awaitable)
        exited = asyncio.ensure_future(self.proc.wait())
        await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            exited.cancel()
            return task.result()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        raise AssertionError(
            f"sipp ended first: {SippResult(exited.result(), self.workdir).describe()}"
        )

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


@asynccontextmanager
async def sipp_call(
    scenario: str,
    target: str,
    workdir: Path,
    keys: Mapping[str, str] | None = None,
    *,
    audio: Path | None = None,
    port: int | None = None,
    uas: bool = False,
) -> AsyncIterator[SippCall]:
    """Run `tests/live/sipp/<scenario>.xml` for one call to `target` ("127.0.0.1:5060").

    `keys` fill the scenario's [name] fields; `audio` (raw PCMU) is what it streams. With
    `uas`, sipp waits on `port` for a call instead of placing one. sipp's output, its
    message trace and its errors stay in `workdir`; it is killed if it still runs when the
    block ends.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if audio is not None:
        (workdir / AUDIO_FILE).write_bytes(audio.read_bytes())
    port = port or free_port(socket.SOCK_DGRAM)
    media_port, _ = free_udp_range(4)
    call_id = f"live-{uuid.uuid4().hex[:16]}"
    argv = ["sipp", "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", HOST, "-p", str(port)]
    argv += ["-mi", HOST, "-mp", str(media_port), "-m", "1", "-nostdin"]
    argv += ["-timeout", f"{SIPP_TIMEOUT_S}s", "-timeout_error", "-trace_msg", "-trace_err"]
    if not uas:
        argv += ["-cid_str", f"{call_id}-%u"]  # %u: the call number, 1
    for name, value in (keys or {}).items():
        argv += ["-key", name, value]
    if not uas:
        argv.append(target)
    with (workdir / "sipp.out").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=workdir, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    call = SippCall(proc, None if uas else f"{call_id}-1", port, workdir)
    try:
        yield call
    finally:
        await call.kill()


class Phone:
    """SIP phones for a test, one sipp per call, each in its own folder under `workdir`."""

    def __init__(self, target: str, uas_port: int, workdir: Path, audio: Path) -> None:
        self.target = target
        self.uas_port = uas_port
        self.workdir = workdir
        self.audio = audio
        self._calls = 0

    def _folder(self, scenario: str) -> Path:
        self._calls += 1
        return self.workdir / f"sipp-{self._calls}-{scenario}"

    def call(self, scenario: str, **keys: str) -> AbstractAsyncContextManager[SippCall]:
        """Call the SIP service: `async with phone.call("caller_hangs_up", to=...) as sipp:`"""
        return self.call_playing(scenario, self.audio, **keys)

    def call_playing(
        self, scenario: str, audio: Path, **keys: str
    ) -> AbstractAsyncContextManager[SippCall]:
        """`call`, the phone playing `audio` (raw PCMU: `Bursts().write(path)`) once answered."""
        folder = self._folder(scenario)
        return sipp_call(scenario, self.target, folder, keys, audio=audio)

    def answer(self, scenario: str, **keys: str) -> AbstractAsyncContextManager[SippCall]:
        """Wait for the call LiveKit places through the outbound trunk (one at a time: the
        trunk has one address): `async with phone.answer("callee_answers") as callee:`"""
        folder = self._folder(scenario)
        return sipp_call(scenario, "", folder, keys, audio=self.audio, port=self.uas_port, uas=True)


CALLER = "+15105550123"
"""The number our caller scenarios call from."""


def caller_keys(to: str, **more: str) -> dict[str, str]:
    """The `-key` values of our caller_*.xml scenarios: a Twilio-like INVITE (X-Twilio-*,
    X-Customer-Id, X-Tier), unique per call: its CallSid finds the call in the worker's log."""
    return {
        "to": to,
        "caller": CALLER,
        "call_sid": f"CA{uuid.uuid4().hex}",
        "account_sid": "AC0123456789abcdef0123456789abcdef",
        "customer_id": f"cust-{uuid.uuid4().hex[:8]}",
        "tier": "silver",
    } | more
