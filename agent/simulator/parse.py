"""Scenario files (TOML) -> `Scenario`, with one-line errors naming the file, the place
(`steps[2].wait`) and the problem. The values are checked by the file's pydantic models
(`schema.py`); the script is then checked as a story: a call must join before it can speak,
joins once, and shares its identity only with calls that are never in the room with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..call import STATUS_KEY
from ..errors import ConfigError
from ..validation import FileProblem, first_error, read_toml
from .answers import answers_by_request
from .model import (
    CallSpec,
    DeleteRoom,
    Dtmf,
    Expectation,
    Join,
    Leave,
    Mute,
    Publish,
    Reconnect,
    Scenario,
    SetAttributes,
    Step,
    Unpublish,
    Wait,
)
from .schema import (
    CallFile,
    DeleteRoomStep,
    DtmfStep,
    ExpectFile,
    JoinStep,
    LeaveStep,
    MuteStep,
    PublishStep,
    ReconnectStep,
    ScenarioFile,
    SetStep,
    StepFile,
    UnpublishStep,
    WaitStep,
    verb,
)


class ScenarioError(ConfigError):
    """A scenario file that cannot be played; the message is one line."""


class _Problem(Exception):
    """A step the story refuses; turned into a ScenarioError with its place."""


def _call(name: str, raw: CallFile) -> CallSpec:
    attributes = dict(raw.attributes)
    if raw.status is not None:
        attributes[STATUS_KEY] = raw.status
    # LiveKit's default identities: sip_<caller> inbound, sip_<number dialled> outbound.
    number = attributes.get("sip.phoneNumber")
    return CallSpec(
        name=name,
        room=raw.room or name,
        identity=raw.identity or f"sip_{number or name}",
        attributes=attributes,
        kind=raw.kind,
    )


def _step(raw: StepFile) -> Step:
    match raw:
        case JoinStep():
            return Join(raw.join, note=raw.note)
        case SetStep():
            changes: dict[str, str | None] = dict(raw.attributes)
            if raw.status is not None:
                changes[STATUS_KEY] = raw.status
            changes.update(dict.fromkeys(raw.remove))
            return SetAttributes(raw.call, changes, note=raw.note)
        case DtmfStep():
            return Dtmf(raw.call, raw.digits, note=raw.note)
        case PublishStep():
            return Publish(raw.call, raw.track, note=raw.note)
        case UnpublishStep():
            return Unpublish(raw.call, note=raw.note)
        case MuteStep():
            return Mute(raw.call, raw.muted, note=raw.note)
        case WaitStep():
            return Wait(raw.seconds, note=raw.note)
        case LeaveStep():
            return Leave(raw.call, raw.reason, note=raw.note)
        case DeleteRoomStep():
            return DeleteRoom(raw.room, note=raw.note)
        case ReconnectStep():
            return Reconnect(raw.room, raw.back_after, note=raw.note)
    raise AssertionError(raw)  # pragma: no cover - the union is exhaustive


def _expectation(raw: ExpectFile) -> Expectation:
    return Expectation(**raw.model_dump())


class _Story:
    """Who is in which room as the script runs, to refuse steps that cannot happen."""

    def __init__(self, calls: Mapping[str, CallSpec]) -> None:
        self.calls = calls
        self.present: set[str] = set()
        self.joined: set[str] = set()
        self.tracks: dict[str, int] = {}
        """Tracks each participant publishes now."""
        self.rooms = {spec.room for spec in calls.values()}

    def follow(self, step: Step) -> None:
        match step:
            case Join(call=name):
                self._join(name)
            case SetAttributes(call=name) | Dtmf(call=name):
                self._here(name)
            case Publish(call=name):
                self._here(name)
                self.tracks[name] = self.tracks.get(name, 0) + 1
            case Unpublish(call=name) | Mute(call=name):
                self._here(name)
                if not self.tracks.get(name):
                    raise _Problem(f"{name!r} publishes no track (publish one first)")
                if isinstance(step, Unpublish):
                    self.tracks[name] -= 1
            case Leave(call=name):
                self._here(name)
                self.present.discard(name)
                self.tracks.pop(name, None)
            case DeleteRoom(room=room) | Reconnect(room=room):
                if room not in self.rooms:
                    raise _Problem(f"unknown room {room!r}; rooms: {', '.join(sorted(self.rooms))}")
                if isinstance(step, DeleteRoom):
                    self.present -= {n for n in self.present if self.calls[n].room == room}

    def _join(self, name: str) -> None:
        spec = self._known(name)
        if name in self.present:
            raise _Problem(f"{name!r} is already in room {spec.room!r}")
        if name in self.joined:
            msg = (
                f"{name!r} joined before: a second call from the same phone is a call of"
                f" its own ([calls.NAME] with identity = {spec.identity!r})"
            )
            raise _Problem(msg)
        for other in self.present:
            if (self.calls[other].room, self.calls[other].identity) == (spec.room, spec.identity):
                msg = (
                    f"{name!r} has the identity {spec.identity!r} of {other!r}, which is still"
                    f" in room {spec.room!r}: LiveKit allows one participant per identity"
                )
                raise _Problem(msg)
        self.present.add(name)
        self.joined.add(name)

    def _known(self, name: str) -> CallSpec:
        if name not in self.calls:
            raise _Problem(f"unknown call {name!r}; calls: {', '.join(self.calls) or 'none'}")
        return self.calls[name]

    def _here(self, name: str) -> None:
        spec = self._known(name)
        if name not in self.present:
            raise _Problem(f"{name!r} is not in room {spec.room!r} (join it first)")


def _rules(value: str, folder: Path) -> Path:
    path = (folder / value).resolve()
    if not path.is_file():
        raise ScenarioError(f"rules: no rules file {str(path)!r}")
    return path


def _checked(data: Mapping[str, Any]) -> ScenarioFile:
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as exc:
        place, problem = first_error(exc)
        raise ScenarioError(f"{place}: {problem}" if place else problem) from None


def parse_scenario(
    data: Mapping[str, Any], *, name: str, source: str, folder: Path = Path()
) -> Scenario:
    """A scenario from parsed TOML; `source` names it in errors (usually the file path),
    `folder` is where its `rules` path starts (the file's folder)."""
    try:
        raw = _checked(data)
        calls = {call_name: _call(call_name, spec) for call_name, spec in raw.calls.items()}
        if missing := sorted(set(raw.expect) - set(calls)):
            raise ScenarioError(f"expect.{missing[0]}: no such call")
        story = _Story(calls)
        steps = []
        for number, raw_step in enumerate(raw.steps, start=1):
            step = _step(raw_step)
            try:
                story.follow(step)
            except _Problem as exc:
                place = f"steps[{number}].{verb(raw_step.model_dump(by_alias=True))}"
                raise ScenarioError(f"{place}: {exc}") from None
            steps.append(step)
        rules = _rules(raw.rules, folder) if raw.rules is not None else None
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    return Scenario(
        name=name,
        calls=calls,
        steps=tuple(steps),
        expect={call_name: _expectation(e) for call_name, e in raw.expect.items()},
        description=raw.description,
        rules=rules,
        answers=answers_by_request(raw.answers),
    )


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; any problem raises ScenarioError in one line."""
    try:
        data = read_toml(path)
    except FileProblem as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return parse_scenario(data, name=path.stem, source=str(path), folder=path.parent)
