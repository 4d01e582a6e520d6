"""Scenarios built in code, for tests: the same shape as a TOML file, checked the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Scenario
from .parse import parse_scenario


class Script:
    """Chainable: `Script().call("caller", status="ringing").join("caller").wait(3)...`.

    Every method adds what a TOML file would say; `build()` runs the file parser on it, so
    a script that cannot be played fails with the same one-line error.
    """

    def __init__(self, name: str = "script", description: str = "") -> None:
        self.name = name
        self._data: dict[str, Any] = {
            "description": description,
            "calls": {},
            "steps": [],
            "expect": {},
        }

    def call(self, name: str, **spec: Any) -> Script:
        """Declare a call: room, identity, status, attributes, kind (as `[calls.NAME]`)."""
        self._data["calls"][name] = spec
        return self

    def _step(self, note: str, **step: Any) -> Script:
        self._data["steps"].append({**step, "note": note} if note else step)
        return self

    def join(self, call: str, *, note: str = "") -> Script:
        return self._step(note, join=call)

    def set(
        self,
        call: str,
        *,
        status: str | None = None,
        attributes: Mapping[str, str] | None = None,
        remove: tuple[str, ...] = (),
        note: str = "",
    ) -> Script:
        step: dict[str, Any] = {"set": call, "attributes": dict(attributes or {})}
        if status is not None:
            step["status"] = status
        if remove:
            step["remove"] = list(remove)
        return self._step(note, **step)

    def dtmf(self, call: str, digits: str, *, note: str = "") -> Script:
        return self._step(note, dtmf=call, digits=digits)

    def publish(self, call: str, track: str = "audio", *, note: str = "") -> Script:
        return self._step(note, publish=call, track=track)

    def unpublish(self, call: str, *, note: str = "") -> Script:
        return self._step(note, unpublish=call)

    def mute(self, call: str, muted: bool = True, *, note: str = "") -> Script:
        return self._step(note, mute=call, muted=muted)

    def wait(self, seconds: float, *, note: str = "") -> Script:
        return self._step(note, wait=seconds)

    def leave(self, call: str, reason: str = "CLIENT_INITIATED", *, note: str = "") -> Script:
        return self._step(note, leave=call, reason=reason)

    def delete_room(self, room: str, *, note: str = "") -> Script:
        return self._step(note, delete_room=room)

    def reconnect(self, room: str, *, back_after: float = 3.0, note: str = "") -> Script:
        return self._step(note, reconnect=room, back_after=back_after)

    def expect(self, call: str, **fields: Any) -> Script:
        """outcome, ended_by, disconnect_reason, events, duration_s, ringing_s, talk_s."""
        self._data["expect"][call] = fields
        return self

    def build(self) -> Scenario:
        return parse_scenario(self._data, name=self.name, source=f"script {self.name!r}")
