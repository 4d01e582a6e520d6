"""The `sip_simulator` pytest fixture: play scenarios through the real worker in your tests.

Enabled by installing this package (a `pytest11` entry point), or with
`pytest_plugins = ["agent.simulator.pytest_plugin"]` in your root conftest.py.

    async def test_missed_calls(sip_simulator):
        result = await sip_simulator.play("inbound-canceled-while-ringing", handlers=[mine])
        assert result["caller"].ended.outcome == "canceled"
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..assembly import Mode, assemble
from . import PlayResult, Scenario, find, play
from .script import Script


class SipSimulator:
    """Plays a shipped scenario (by name), a scenario file, or a `Script` built in code."""

    def script(self, name: str = "script", description: str = "") -> Script:
        return Script(name, description)

    async def play(
        self,
        scenario: Scenario | Script | str | Path,
        *,
        handlers: Sequence[Any] = (),
        rules: Path | None = None,
        speed: float = 0.0,
        check: bool = True,
        **settings: Any,
    ) -> PlayResult:
        """Run it through the real entrypoint with these handlers (built-in names such as
        "log" or "router", or handler objects) and settings; with `check`, fail the test
        unless every call ended exactly once, as its `[expect]` says."""
        if isinstance(scenario, Script):
            scenario = scenario.build()
        elif not isinstance(scenario, Scenario):
            scenario = find(str(scenario))
        # The rules a scenario was written for, unless the test brings its own.
        rules = rules or scenario.rules
        config = assemble(
            Mode.SIMULATE,
            names=[h for h in handlers if isinstance(h, str)],
            handlers=[h for h in handlers if not isinstance(h, str)],
            rules=rules,
            **settings,
        )
        result = await play(scenario, config, speed=speed)
        if check and not result.ok:
            pytest.fail("\n".join(result.failures), pytrace=False)
        return result


@pytest.fixture
def sip_simulator() -> SipSimulator:
    return SipSimulator()
