"""`python -m agent simulate`: the listing, the play, the verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..assembly import Mode, assemble
from .library import find, shipped
from .parse import load_scenario
from .player import Output, check_speed, play


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
    result = asyncio.run(play(scenario, config, speed=speed, out=out))
    for failure in result.failures:
        out(f"!! {failure}")
    calls = sum(1 for call in result.calls.values() if call.events)
    verdict = "as expected" if result.ok else f"{len(result.failures)} expectation(s) failed"
    out(f"== {scenario.name}: {calls} call(s), {verdict}")
    return 0 if result.ok else 1
