"""Scenario files (TOML) -> `Scenario`, with one-line errors naming the file, the step and
the problem. The script is also checked as a story: a call must join before it can speak,
and cannot join twice while it is still in its room.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from livekit import rtc

from .. import dtmf
from ..call import STATUS_KEY
from ..errors import ConfigError
from ..outcome import EndedBy, EndReason, Outcome
from .answers import parse_answers
from .model import (
    CallSpec,
    DeleteRoom,
    Dtmf,
    Expectation,
    Join,
    Leave,
    Reconnect,
    Scenario,
    SetAttributes,
    Step,
    Wait,
)

TOP_KEYS = frozenset({"description", "rules", "answers", "calls", "steps", "expect"})
CALL_KEYS = frozenset({"room", "identity", "kind", "attributes", "status"})
EXPECT_KEYS = frozenset(Expectation.__dataclass_fields__)
P = ParamSpec("P")
R = TypeVar("R")


class ScenarioError(ConfigError):
    """A scenario file that cannot be played; the message is one line."""


class _Problem(Exception):
    """Raised deep in the parser; turned into a ScenarioError with its place."""


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Problem(f"{what} must be a non-empty string (got {value!r})")
    return value


def _strings(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Problem(f"{what} must be a table of strings (got {value!r})")
    return dict(value)


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _Problem(f"{what} must be a number of seconds >= 0 (got {value!r})")
    return float(value)


def _reason(value: object, known: list[str] | None = None) -> str:
    known = known or rtc.DisconnectReason.keys()
    if value not in known:
        raise _Problem(f"unknown disconnect reason {value!r}; known: {', '.join(known)}")
    return str(value)


def _digits(value: object) -> str:
    digits = _text(value, "digits")
    if bad := sorted(set(digits) - dtmf.DIGITS):
        raise _Problem(f"not DTMF digits: {''.join(bad)!r} (use 0-9, *, #, A-D)")
    return digits


def _set(raw: Mapping[str, Any]) -> SetAttributes:
    changes: dict[str, str | None] = {}
    changes.update(_strings(raw.get("attributes", {}), "attributes"))
    if "status" in raw:
        changes[STATUS_KEY] = _text(raw["status"], "status")
    for key in raw.get("remove", []):
        changes[_text(key, "remove")] = None
    if not changes:
        raise _Problem("nothing to set: give attributes, status or remove")
    return SetAttributes(raw["set"], changes)


# verb -> (the other keys it accepts, how to build the step)
_VERBS: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], Step]]] = {
    "join": (frozenset(), lambda r: Join(_text(r["join"], "join"))),
    "set": (frozenset({"attributes", "status", "remove"}), _set),
    "dtmf": (frozenset({"digits"}), lambda r: Dtmf(r["dtmf"], _digits(r.get("digits")))),
    "wait": (frozenset(), lambda r: Wait(_seconds(r["wait"], "wait"))),
    "leave": (
        frozenset({"reason"}),
        lambda r: Leave(r["leave"], _reason(r.get("reason", "CLIENT_INITIATED"))),
    ),
    "delete_room": (frozenset(), lambda r: DeleteRoom(_text(r["delete_room"], "delete_room"))),
    "reconnect": (
        frozenset({"back_after"}),
        lambda r: Reconnect(
            _text(r["reconnect"], "reconnect"), _seconds(r.get("back_after", 3.0), "back_after")
        ),
    ),
}


def _verb(raw: object) -> str:
    if not isinstance(raw, dict):
        raise _Problem(f"a step must be a table (got {raw!r})")
    verbs = [key for key in raw if key in _VERBS]
    if len(verbs) != 1:
        raise _Problem(f"a step needs exactly one of {', '.join(_VERBS)} (got {sorted(raw)})")
    return str(verbs[0])


def _step(raw: Mapping[str, Any], verb: str) -> Step:
    allowed, build = _VERBS[verb]
    if unknown := sorted(set(raw) - allowed - {verb, "note"}):
        raise _Problem(f"unknown key {unknown[0]!r}; {verb} takes {sorted(allowed) or 'none'}")
    step = build(raw)
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise _Problem(f"note must be a string (got {note!r})")
    return type(step)(**{**_fields(step), "note": note})


def _fields(step: Step) -> dict[str, Any]:
    return {name: getattr(step, name) for name in step.__dataclass_fields__}


def _no_unknown(raw: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    if unknown := sorted(set(raw) - allowed):
        # TOML puts keys written after a [table] header into that table: a common slip.
        hint = " (top-level keys go above the first [table])" if unknown[0] in TOP_KEYS else ""
        raise _Problem(f"unknown key {unknown[0]!r}{hint}; {what} takes {sorted(allowed)}")


def _call(name: str, raw: object) -> CallSpec:
    if not isinstance(raw, dict):
        raise _Problem("must be a table")
    _no_unknown(raw, CALL_KEYS, "a call")
    attributes = _strings(raw.get("attributes", {}), "attributes")
    if "status" in raw:
        attributes[STATUS_KEY] = _text(raw["status"], "status")
    # LiveKit's default identities: sip_<caller> inbound, sip_<number dialled> outbound.
    number = attributes.get("sip.phoneNumber")
    identity = raw.get("identity", f"sip_{number or name}")
    return CallSpec(
        name=name,
        room=_text(raw.get("room", name), "room"),
        identity=_text(identity, "identity"),
        attributes=attributes,
        kind=_text(raw.get("kind", "SIP"), "kind").upper(),
    )


def _expectation(raw: object) -> Expectation:
    if not isinstance(raw, dict):
        raise _Problem("must be a table")
    _no_unknown(raw, EXPECT_KEYS, "expect")
    try:
        outcome = Outcome(raw["outcome"]) if "outcome" in raw else None
        ended_by = EndedBy(raw["ended_by"]) if "ended_by" in raw else None
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    events = raw.get("events")
    if events is not None and not (
        isinstance(events, list | tuple) and all(isinstance(e, str) for e in events)
    ):
        raise _Problem(f"events must be a list of event types (got {events!r})")
    durations = {
        key: _seconds(raw[key], key) for key in ("duration_s", "ringing_s", "talk_s") if key in raw
    }
    # The worker's own ends (JOB_ENDED) can be expected too, not only LiveKit's reasons.
    reasons = sorted({*rtc.DisconnectReason.keys(), *EndReason})
    reason = _reason(raw["disconnect_reason"], reasons) if "disconnect_reason" in raw else None
    return Expectation(
        outcome=outcome,
        ended_by=ended_by,
        disconnect_reason=reason,
        events=tuple(events) if events is not None else None,
        **durations,
    )


class _Story:
    """Who is in which room as the script runs, to refuse steps that cannot happen."""

    def __init__(self, calls: Mapping[str, CallSpec]) -> None:
        self.calls = calls
        self.present: set[str] = set()
        self.rooms = {spec.room for spec in calls.values()}

    def follow(self, step: Step) -> None:
        match step:
            case Join(call=name):
                spec = self._known(name)
                if name in self.present:
                    raise _Problem(f"{name!r} is already in room {spec.room!r}")
                self.present.add(name)
            case SetAttributes(call=name) | Dtmf(call=name):
                self._here(name)
            case Leave(call=name):
                self._here(name)
                self.present.discard(name)
            case DeleteRoom(room=room) | Reconnect(room=room):
                if room not in self.rooms:
                    raise _Problem(f"unknown room {room!r}; rooms: {', '.join(sorted(self.rooms))}")
                if isinstance(step, DeleteRoom):
                    self.present -= {n for n in self.present if self.calls[n].room == room}

    def _known(self, name: str) -> CallSpec:
        if name not in self.calls:
            raise _Problem(f"unknown call {name!r}; calls: {', '.join(self.calls) or 'none'}")
        return self.calls[name]

    def _here(self, name: str) -> None:
        spec = self._known(name)
        if name not in self.present:
            raise _Problem(f"{name!r} is not in room {spec.room!r} (join it first)")


def _section(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"[{key}] must be a table of named entries")
    return value


def _rules(value: object, folder: Path) -> Path:
    path = (folder / _text(value, "rules")).resolve()
    if not path.is_file():
        raise _Problem(f"no rules file {str(path)!r}")
    return path


def parse_scenario(
    data: Mapping[str, Any], *, name: str, source: str, folder: Path = Path()
) -> Scenario:
    """A scenario from parsed TOML; `source` names it in errors (usually the file path),
    `folder` is where its `rules` path starts (the file's folder)."""
    unknown = sorted(set(data) - TOP_KEYS)
    try:
        if unknown:
            raise ScenarioError(f"unknown top-level key {unknown[0]!r}")
        rules = _at("rules", _rules, data["rules"], folder) if "rules" in data else None
        try:
            answers = parse_answers(data.get("answers", {}))
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        calls: dict[str, CallSpec] = {}
        for call_name, raw in _section(data, "calls").items():
            calls[call_name] = _at(f"calls.{call_name}", _call, call_name, raw)
        expect = {
            call_name: _at(f"expect.{call_name}", _expectation, raw)
            for call_name, raw in _section(data, "expect").items()
        }
        if missing := sorted(set(expect) - set(calls)):
            raise ScenarioError(f"expect.{missing[0]}: no such call")
        raw_steps = data.get("steps", [])
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ScenarioError("no steps: add a `steps` list (join, set, dtmf, wait, leave, ...)")
        story = _Story(calls)
        steps = []
        for number, raw in enumerate(raw_steps, start=1):
            where = f"step {number}"
            verb = _at(where, _verb, raw)
            step = _at(f"{where} ({verb})", _step, raw, verb)
            _at(f"{where} ({verb})", story.follow, step)
            steps.append(step)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    description = data.get("description", "")
    return Scenario(
        name=name,
        calls=calls,
        steps=tuple(steps),
        expect=expect,
        description=description if isinstance(description, str) else "",
        rules=rules,
        answers=answers,
    )


def _at(where: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return fn(*args, **kwargs)
    except (_Problem, KeyError, TypeError) as exc:
        problem = exc.args[0] if isinstance(exc, _Problem) else f"bad value: {exc}"
        raise ScenarioError(f"{where}: {problem}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; any problem raises ScenarioError in one line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    return parse_scenario(data, name=path.stem, source=str(path), folder=path.parent)
