"""The built-in handlers by name, and how configured names and objects become handler
factories (validated once, at start)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from ..actions import import_object
from ..errors import ConfigError
from ..metrics import MetricsHandler
from ..settings import Settings
from ..store.handler import StoreHandler
from ..webhooks.handler import WebhookHandler
from .base import EventFunction, FunctionHandler, Handler, HandlerFactory
from .log import LogHandler
from .router import Router, load_rules

BUILTIN: Mapping[str, HandlerFactory] = {
    "log": LogHandler.from_settings,
    "router": Router.from_settings,
    "metrics": MetricsHandler.from_settings,
    "store": StoreHandler.from_settings,
    "webhook": WebhookHandler.from_settings,
}


def as_factory(obj: Any, origin: str) -> HandlerFactory:
    """Accepts a Handler instance, a Handler class (built with `from_settings(settings)` if
    it has one, else with no arguments), or an `async def f(event)`."""
    if isinstance(obj, type):
        factory = getattr(obj, "from_settings", None)
        if callable(factory):
            return _checked(factory, origin)
        return _checked(lambda _settings: obj(), origin)
    if inspect.iscoroutinefunction(obj):
        fn: EventFunction = obj
        return lambda _settings: FunctionHandler(fn)
    if isinstance(obj, Handler):
        return lambda _settings: obj
    msg = (
        f"handler {origin} is {type(obj).__name__}: expected an `async def f(event)`, "
        "a Handler instance (name, async handle, async aclose) or a Handler class"
    )
    raise ConfigError(msg)


def _checked(factory: HandlerFactory, origin: str) -> HandlerFactory:
    def build(settings: Settings) -> Handler:
        try:
            handler = factory(settings)
        except ConfigError:
            raise
        except Exception as exc:
            # Your constructor's error, in one line with its name, not a traceback.
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"handler {origin} failed to start: {detail}") from None
        if not isinstance(handler, Handler):
            msg = f"handler {origin} built {type(handler).__name__}, which is not a Handler"
            raise ConfigError(msg)
        return handler

    return build


def _router(settings: Settings) -> HandlerFactory:
    """The rules file is read and checked once; every job's router shares its rules."""
    rules = load_rules(settings.rules) if settings.rules is not None else []
    return lambda _settings: Router(rules)


def resolve(names: Sequence[str], settings: Settings) -> list[HandlerFactory]:
    """Setting values (built-in names or import paths) -> factories; fails on a bad one."""
    factories = []
    for name in names:
        if name == "router":
            factories.append(_router(settings))
        elif name in BUILTIN:
            factories.append(BUILTIN[name])
        elif ":" in name:
            factories.append(as_factory(import_object(name, "handler"), repr(name)))
        else:
            msg = (
                f"unknown handler {name!r} in SIP_AGENT_HANDLERS: use one of "
                f"{', '.join(BUILTIN)} or an import path 'package.module:attribute'"
            )
            raise ConfigError(msg)
    return factories


__all__ = ["BUILTIN", "as_factory", "resolve"]
