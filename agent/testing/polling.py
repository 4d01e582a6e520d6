"""Waiting on what sends no event (another process, a file it writes, a server's counters):
a check polled with a deadline. Where an event exists, wait on it instead (`Recorder.until`,
`AgentEndpoint.until`, `TwirpServer.received`, `JobRun.connected`, `FakeRoom.settle`)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable

POLL_S = 0.02


async def eventually(check: Callable[[], object], timeout: float, what: str) -> None:
    """Return once `check()` is true; a TimeoutError naming `what` after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise TimeoutError(f"no {what} within {timeout:g}s") from None


async def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM (a worker drains), then SIGKILL after `timeout` seconds; the wait runs in a
    thread so this loop keeps serving the process (its `/agent` endpoint) meanwhile."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
    except TimeoutError:
        proc.kill()
        await asyncio.to_thread(proc.wait)
