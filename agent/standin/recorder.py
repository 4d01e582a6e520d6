"""A handler that keeps what it is given: the assertion side of tests and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..events import CallEnded, CallEvent
from .waiting import Changes


class Recorder:
    """Every event it is given, in delivery order; `until` waits for events to arrive."""

    def __init__(self, name: str = "recorder", *, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        """Seconds each event takes to handle: a slow handler, for delivery tests."""
        self.events: list[CallEvent] = []
        self.closed = False
        self._changes = Changes(name)

    async def handle(self, event: CallEvent) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.events.append(event)
        self._changes.changed()

    async def aclose(self) -> None:
        self.closed = True

    @property
    def seen(self) -> list[tuple[str, int]]:
        """(call id, seq) of each event, in delivery order."""
        return [(e.call_id, e.seq) for e in self.events]

    def types(self, call_id: str | None = None) -> list[str]:
        """Event types, of one call or of all."""
        return [e.type for e in self.events if call_id is None or e.call_id == call_id]

    def of(self, type_: str) -> list[Any]:
        """The events of one type, in order."""
        return [e for e in self.events if e.type == type_]

    def ended(self) -> list[CallEnded]:
        return [e for e in self.events if isinstance(e, CallEnded)]

    async def until(self, type_: str, count: int = 1, timeout: float = 5) -> list[Any]:
        """The events of `type_` once there are `count` of them (handlers run in tasks of
        their own: an event reaches this recorder a moment after the room saw its cause)."""
        await self.wait_for(lambda: len(self.of(type_)) >= count, timeout, f"{count} {type_}")
        return self.of(type_)

    async def delivered(self, count: int, timeout: float = 5) -> None:
        """Return once `count` events in all were delivered."""
        await self.wait_for(lambda: len(self.events) >= count, timeout, f"{count} events")

    async def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        await self._changes.holds(check, timeout, what, self.types)
