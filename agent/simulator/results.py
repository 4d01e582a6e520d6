"""What a play produced: each call's events, the checks against `[expect]`, summary lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..events import CallEnded, CallEvent
from .model import Expectation, Join, Scenario

# Scenario time is exact (see clock.py); this only absorbs float rounding.
DURATION_TOLERANCE_S = 0.01


@dataclass(frozen=True, slots=True)
class CallResult:
    name: str
    events: tuple[CallEvent, ...]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(event.type for event in self.events)

    @property
    def ended(self) -> CallEnded:
        """The call's one `call.ended`; AssertionError if it got none or several."""
        ends = [e for e in self.events if isinstance(e, CallEnded)]
        assert len(ends) == 1, f"{self.name}: {len(ends)} call.ended events, expected exactly 1"
        return ends[0]


@dataclass(frozen=True, slots=True)
class PlayResult:
    scenario: Scenario
    calls: Mapping[str, CallResult]
    events: tuple[CallEvent, ...]
    """Every event delivered, in delivery order, including any of calls the script lacks."""
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def __getitem__(self, call: str) -> CallResult:
        return self.calls[call]


def _joins(scenario: Scenario) -> dict[tuple[str, str], list[str]]:
    """(room, identity) -> the scenario's calls of that participant, in the order they join:
    one phone may call twice, one call after the other (the story allows no overlap)."""
    joins: dict[tuple[str, str], list[str]] = {}
    for step in scenario.steps:
        if isinstance(step, Join):
            spec = scenario.calls[step.call]
            joins.setdefault((spec.room, spec.identity), []).append(step.call)
    for name, spec in scenario.calls.items():  # declared but never joined: still expected
        joins.setdefault((spec.room, spec.identity), []).append(name)
    return joins


def collect(scenario: Scenario, events: list[CallEvent]) -> PlayResult:
    """Sort the events to the scenario's calls and check them: a participant's n-th call
    (its n-th call id) is the n-th scenario call of that room and identity to join."""
    joins = _joins(scenario)
    names: dict[str, str] = {}
    # Participants of other kinds (an AGENT) make no calls of their own.
    per_call: dict[str, list[CallEvent]] = {
        name: [] for name, spec in scenario.calls.items() if spec.kind == "SIP"
    }
    failures = []
    for event in events:
        # A new call id, or the same id starting again (a phone without sip.callID).
        if event.call_id not in names or event.type == "call.started":
            waiting = joins.get((event.call.room, event.call.identity), [])
            if not waiting:
                failures.append(f"{event.call.identity} in {event.call.room}: not a scenario call")
                continue
            names[event.call_id] = waiting.pop(0)
        per_call[names[event.call_id]].append(event)
    calls = {name: CallResult(name, tuple(evs)) for name, evs in per_call.items()}
    for name, result in calls.items():
        if result.events or name in scenario.expect:
            failures += _check(result, scenario.expect.get(name, Expectation()))
    return PlayResult(scenario, calls, tuple(events), tuple(failures))


def _check(result: CallResult, expect: Expectation) -> list[str]:
    try:
        ended = result.ended
    except AssertionError as exc:
        return [str(exc)]
    wanted = {
        "outcome": expect.outcome,
        "ended_by": expect.ended_by,
        "disconnect_reason": expect.disconnect_reason,
    }
    failures = [
        f"{result.name}: {field} {getattr(ended, field)}, expected {value}"
        for field, value in wanted.items()
        if value is not None and getattr(ended, field) != value
    ]
    if expect.events is not None and result.types != expect.events:
        failures.append(
            f"{result.name}: events {list(result.types)}, expected {list(expect.events)}"
        )
    for field in ("duration_s", "ringing_s", "talk_s"):
        value = getattr(expect, field)
        got = getattr(ended, field)
        if value is not None and abs(got - value) > DURATION_TOLERANCE_S:
            failures.append(f"{result.name}: {field} {got:.2f}, expected {value:.2f}")
    return failures


def summary_line(result: CallResult) -> str:
    """One line per call: how it ended and how long each part took, in scenario time."""
    ends = [e for e in result.events if isinstance(e, CallEnded)]
    if len(ends) != 1:
        return f"== {result.name}: {len(ends)} call.ended events (expected exactly 1)"
    end = ends[0]
    return (
        f"== {result.name}: {end.outcome}, ended by {end.ended_by} ({end.disconnect_reason}),"
        f" {end.duration_s:.1f}s in all: ringing {end.ringing_s:.1f}s, talk {end.talk_s:.1f}s"
    )
