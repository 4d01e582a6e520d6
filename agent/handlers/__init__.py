"""Handlers: the interface and the log handler. The router is `agent.handlers.router`; the
registry that turns configured names into handlers is `agent.handlers.registry`."""

from __future__ import annotations

from .base import EventFunction, FunctionHandler, Handler, HandlerFactory
from .log import LogHandler

__all__ = ["EventFunction", "FunctionHandler", "Handler", "HandlerFactory", "LogHandler"]
