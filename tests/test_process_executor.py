"""`SIP_AGENT_EXECUTOR=process`: the configuration reaches each job process, or start-up stops.

The process executor pickles the entrypoint, and with it the worker's configuration, for
every job process. The configuration goes as what it was built from (settings, handlers of
your own, the fleet's part) and the job process builds its handlers itself;
tests/live/test_executors.py runs real calls through it.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from agent import server
from agent.assembly import Mode, assemble, check_sendable
from agent.errors import ConfigError
from agent.events import CallEvent
from agent.settings import Settings, load_settings
from agent.simulator.clock import ScenarioClock

LIVEKIT = {
    "livekit_url": "ws://127.0.0.1:9",
    "livekit_api_key": "devkey",
    "livekit_api_secret": "test-secret-0123456789abcdef0123456789",
}


def settings(tmp_path: Path, executor: str = "process") -> Settings:
    return load_settings(
        db_url=f"sqlite:///{tmp_path}/calls.db", handlers="store,log", executor=executor, **LIVEKIT
    )


async def module_level_handler(event: CallEvent) -> None:
    """A handler of one's own that a job process can import by name."""


def test_a_configuration_reaches_a_job_process_as_its_recipe(tmp_path: Path) -> None:
    config = assemble(Mode.START, settings=settings(tmp_path), handlers=[module_level_handler])
    assert config.fleet is not None  # store: calls are claimed in the database
    sent = pickle.loads(pickle.dumps(config))
    assert sent.settings == config.settings
    assert sent.fleet == config.fleet and sent.job_fleet is not None
    assert sent.own_handlers == (module_level_handler,)
    assert [h.name for h in sent.build_handlers()] == [h.name for h in config.build_handlers()]
    # Built in the job process: its own handlers, not copies of the worker's.
    assert not {id(h) for h in sent.checked} & {id(h) for h in config.checked}


def test_a_handler_a_job_process_cannot_get_stops_start_up(tmp_path: Path) -> None:
    async def local_handler(event: CallEvent) -> None:
        """Defined in a function: nothing a job process could import."""

    with pytest.raises(ConfigError) as info:
        server.create_server(settings(tmp_path), handlers=[local_handler])
    message = str(info.value)
    assert message.startswith("invalid setting SIP_AGENT_EXECUTOR: process sends")
    assert "local_handler" in message and "\n" not in message


def test_a_configuration_on_a_clock_of_its_own_is_not_sent(tmp_path: Path) -> None:
    """The simulator's scenario clock would be lost on the way: refused, not replaced."""
    config = assemble(Mode.START, settings=settings(tmp_path))
    with pytest.raises(ConfigError, match="clock of its own"):
        check_sendable(dataclasses.replace(config, clock=ScenarioClock()))
