"""`python -m agent start|dev`: livekit-agents' own commands, after our settings check;
`simulate`: scripted calls on the embedded LiveKit stand-in."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from livekit.agents import AgentServer
from livekit.agents.cli import _legacy

from .assembly import Mode, assemble
from .calls_cli import calls_app, fail
from .errors import ConfigError
from .preflight import check_livekit
from .server import server_for
from .webhooks_cli import webhooks_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="A LiveKit agent worker that turns SIP calls into typed call events.",
)
app.add_typer(calls_app, name="calls")
app.add_typer(webhooks_app, name="webhooks")
_PASS_THROUGH: dict[str, Any] = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
}
_handlers: list[Any] = []


def _checked_server(dev: bool) -> AgentServer:
    """Settings, handlers and rules, then LiveKit itself: the first problem, in one line."""
    try:
        config = assemble(Mode.DEV if dev else Mode.START, handlers=_handlers)
        asyncio.run(check_livekit(config.settings))
    except ConfigError as exc:
        fail(str(exc))
    # Only now the native library loads: a start refused above exits without touching it.
    return server_for(config)


def _run_livekit(command: str, args: Sequence[str], *, dev: bool) -> None:
    server = _checked_server(dev)
    # livekit-agents' own CLI: its options, logging, signals and drain, unchanged.
    _legacy._build_cli(server)([command, *args], prog_name="python -m agent")


@app.command(context_settings=_PASS_THROUGH)
def start(ctx: typer.Context) -> None:
    """Run the worker in production mode (JSON logs, drains calls on SIGTERM)."""
    _run_livekit("start", ctx.args, dev=False)


@app.command(context_settings=_PASS_THROUGH)
def dev(ctx: typer.Context) -> None:
    """Run the worker in development mode (readable logs)."""
    _run_livekit("dev", ctx.args, dev=True)


@app.command()
def simulate(
    scenario: Annotated[str, typer.Argument(help="A scenario file or a shipped one's name.")] = "",
    rules: Annotated[Path | None, typer.Option(help="Routing rules file; adds the router.")] = None,
    speed: Annotated[float, typer.Option(help="Scenario seconds per real second; 0: none.")] = 10.0,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped scenarios.")] = False,
) -> None:
    """Play scripted calls through the worker on an embedded LiveKit (no account needed)."""
    # Imported here: the simulator and the stand-in are imports start and dev do not need.
    from .simulator.command import listing
    from .simulator.command import simulate as play

    if list_:
        typer.echo(listing())
        return
    if not scenario:
        fail("simulate needs a scenario file or a shipped scenario's name (see --list)")
    try:
        code = play(scenario, rules=rules, speed=speed, handlers=_handlers, out=typer.echo)
    except ConfigError as exc:
        fail(str(exc))
    raise typer.Exit(code)


def main(argv: Sequence[str] | None = None, *, handlers: Sequence[Any] = ()) -> None:
    """Entry for `python -m agent` and for your own script with handlers in code."""
    _handlers[:] = list(handlers)
    app(list(argv) if argv is not None else sys.argv[1:], prog_name="python -m agent")
