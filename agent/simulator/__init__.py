"""The call simulator: scripted SIP calls played through the real worker entrypoint on
the SDK-level LiveKit stand-in, with the configured handlers and rules.

- `load_scenario(path)` / `find(name_or_path)`: a TOML scenario file, or a shipped one
- `Script`: the same, built in code
- `play(scenario, config, speed=...)`: run it; returns a `PlayResult` checked against `[expect]`
"""

from .library import find, shipped
from .model import (
    CallSpec,
    DeleteRoom,
    Dtmf,
    Expectation,
    Join,
    Leave,
    Reconnect,
    Scenario,
    SetAttributes,
    Step,
    Wait,
)
from .parse import ScenarioError, load_scenario, parse_scenario
from .player import DEFAULT_SPEED, play
from .results import CallResult, PlayResult

__all__ = [
    "DEFAULT_SPEED",
    "CallResult",
    "CallSpec",
    "DeleteRoom",
    "Dtmf",
    "Expectation",
    "Join",
    "Leave",
    "PlayResult",
    "Reconnect",
    "Scenario",
    "ScenarioError",
    "SetAttributes",
    "Step",
    "Wait",
    "find",
    "load_scenario",
    "parse_scenario",
    "play",
    "shipped",
]
