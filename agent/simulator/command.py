"""`python -m agent simulate`: the listing, the play, the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from ..assembly import Mode, assemble
from .library import find, shipped
from .parse import load_scenario
from .player import Output, check_speed, play
from .results import PlayResult

STOPPED = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""Exit codes when a signal stops the play: 128 + the signal, as shells report it."""


def listing() -> str:
    lines = []
    for name, path in shipped().items():
        lines.append(f"{name:32} {load_scenario(path).description}")
    return "\n".join(lines)


def simulate(
    scenario_name: str,
    *,
    rules: Path | None = None,
    speed: float,
    handlers: Sequence[Any] = (),
    out: Output = print,
) -> int:
    """Play one scenario; 0 when every call ended as its `[expect]` says, else 1.

    `rules` (`--rules`) replaces the scenario's own, which replace SIP_AGENT_RULES: its
    `[expect]` is written for them.
    """
    check_speed(speed)
    scenario = find(scenario_name)
    config = assemble(Mode.SIMULATE, handlers=handlers, rules=rules or scenario.rules)
    out(f"== {scenario.name}: {scenario.description}")
    stopped: list[signal.Signals] = []
    result = asyncio.run(_until_stopped(play(scenario, config, speed=speed, out=out), stopped))
    if result is None:
        out(f"== {scenario.name}: stopped by {stopped[0].name}; calls still up ended (JOB_ENDED)")
        return STOPPED[stopped[0]]
    for failure in result.failures:
        out(f"!! {failure}")
    calls = sum(1 for call in result.calls.values() if call.events)
    verdict = "as expected" if result.ok else f"{len(result.failures)} expectation(s) failed"
    out(f"== {scenario.name}: {calls} call(s), {verdict}")
    return 0 if result.ok else 1


async def _until_stopped(
    playing: Coroutine[None, None, PlayResult], stopped: list[signal.Signals]
) -> PlayResult | None:
    """The play, or None when SIGINT or SIGTERM stopped it: either cancels it, so the calls
    still up end with their jobs (JOB_ENDED) and every handler closes, as at a script's end."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(playing)

    def stop(signum: signal.Signals) -> None:
        stopped.append(signum)
        task.cancel()

    installed = []
    for signum in STOPPED:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signum, stop, signum)  # main thread only
            installed.append(signum)
    try:
        return await task
    except asyncio.CancelledError:
        if not stopped:
            raise
        return None
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
