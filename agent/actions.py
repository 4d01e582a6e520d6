"""What a router rule can do. Each action is built once from its arguments (and checked
then), and run with the event that matched."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .current import current_job
from .errors import ConfigError
from .events import CallEvent

Action = Callable[[CallEvent], Awaitable[None]]
ActionFactory = Callable[[Any], Action]
"""Takes the action's arguments as written in the rules file; raises ConfigError if wrong."""


def import_object(path: str, what: str) -> Any:
    """`package.module:attribute` -> the object, or a ConfigError that names the path."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        msg = f"{what} {path!r} is not an import path of the form 'package.module:attribute'"
        raise ConfigError(msg)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        msg = f"{what} {path!r}: cannot import module {module_name!r}: {exc}"
        raise ConfigError(msg) from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            msg = f"{what} {path!r}: module {module_name!r} has no attribute {attr!r}"
            raise ConfigError(msg) from None
    return obj


def _call(args: Any) -> Action:
    """`do = { call = "package.module:function" }`: an `async def f(event)` of yours."""
    if not isinstance(args, str):
        msg = f"`call` takes an import path string, got {args!r}"
        raise ConfigError(msg)
    fn = import_object(args, "call")
    if not inspect.iscoroutinefunction(fn):
        msg = f"call {args!r} must name an `async def` function taking the event"
        raise ConfigError(msg)
    action: Action = fn
    return action


def _log(args: Any) -> Action:
    """`do = { log = "message" }`: a line in the worker's log, with the call's id."""
    if not isinstance(args, str):
        msg = f"`log` takes a message string, got {args!r}"
        raise ConfigError(msg)

    async def log(event: CallEvent) -> None:
        current_job().log.info(args, call_id=event.call_id, event_type=event.type)

    return log


BASIC: Mapping[str, ActionFactory] = {"call": _call, "log": _log}
"""The actions that do not act on calls; call control adds its own (control/rules.py)."""
