"""A handler that keeps what it is given: the assertion side of tests and the simulator."""

from __future__ import annotations

from ..events import CallEnded, CallEvent


class Recorder:
    """Every event it is given, in delivery order."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.events: list[CallEvent] = []

    async def handle(self, event: CallEvent) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        return None

    def types(self, call_id: str | None = None) -> list[str]:
        """Event types, of one call or of all."""
        return [e.type for e in self.events if call_id is None or e.call_id == call_id]

    def ended(self) -> list[CallEnded]:
        return [e for e in self.events if isinstance(e, CallEnded)]
