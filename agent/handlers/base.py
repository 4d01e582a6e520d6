"""The handler interface: what a piece of call logic implements to receive call events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ..events import CallEvent
from ..settings import Settings


@runtime_checkable
class Handler(Protocol):
    """Receives every event of every call in a job, in order per call.

    `handle` runs under the handler timeout; an exception is logged with the call's context
    and delivery goes on. `aclose` runs once the job's last event was delivered.
    """

    name: str

    async def handle(self, event: CallEvent) -> None: ...

    async def aclose(self) -> None: ...


EventFunction = Callable[[CallEvent], Awaitable[None]]
HandlerFactory = Callable[[Settings], Handler]
"""Builds a handler for one job: handlers holding connections get fresh ones per job."""


class FunctionHandler:
    """An `async def f(event)` as a handler."""

    def __init__(self, fn: EventFunction, name: str | None = None) -> None:
        self._fn = fn
        self.name: str = name or str(getattr(fn, "__qualname__", repr(fn)))

    async def handle(self, event: CallEvent) -> None:
        await self._fn(event)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"FunctionHandler({self.name})"
