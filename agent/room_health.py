"""Each call's health, live: its measuring fold fed with the room's facts, the health events
it raises, and one timer for its earliest pending deadline.

A worker carrying hundreds of quiet calls must not tick for each: a call has a timer only
while a deadline is pending (agent not yet spoken, or a silence going on), set for the
earliest one. A deadline that moves later leaves the timer as it is (it fires, finds nothing
due, and sets itself for the next); one that moves earlier replaces it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from livekit import rtc

from .call import Call
from .call_health import AgentStateChanged, Fact, HealthMeter, Thresholds
from .call_health.figures import rounded
from .clock import Clock
from .events import (
    CallAgentMissing,
    CallEnded,
    CallEvent,
    CallSilence,
    CallSilenceEnded,
    CallSlowResponse,
)
from .settings import Settings

AGENT_KIND = "PARTICIPANT_KIND_AGENT"
Builder = Callable[[Call, int], CallEvent]
"""Builds a health event from the call and its next seq."""


def is_agent(participant: rtc.Participant) -> bool:
    # By enum name, as for SIP: the FFI numbering of kinds differs from the server's.
    try:
        return rtc.ParticipantKind.Name(participant.kind) == AGENT_KIND
    except ValueError:
        return False


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        silence_s=settings.silence_s,
        agent_timeout_s=settings.agent_timeout_s,
        slow_response_s=settings.slow_response_s,
    )


class CallWatch:
    """One call's health: fed facts, raises `call.silence`, `call.silence_ended`,
    `call.agent_missing` and `call.slow_response` through `emit`."""

    __slots__ = (
        "_clock",
        "_emit",
        "_limits",
        "_missing_told",
        "_silence_told",
        "_timer",
        "_timer_at",
        "meter",
    )

    def __init__(
        self, start: datetime, limits: Thresholds, clock: Clock, emit: Callable[[Builder], None]
    ) -> None:
        self.meter = HealthMeter(start, limits)
        self._limits = limits
        self._clock = clock
        self._emit = emit
        self._missing_told = False
        self._silence_told: float | None = None
        """Start of the silent stretch `call.silence` was raised for."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: datetime | None = None

    def feed(self, fact: Fact, names: Mapping[str, str | None]) -> None:
        meter = self.meter
        turns = len(meter.responses_s)
        meter.feed(fact)
        now = fact.at
        if len(meter.responses_s) > turns and isinstance(fact, AgentStateChanged):
            response = meter.responses_s[-1]
            if 0 < self._limits.slow_response_s < response:
                identity = fact.identity
                self._emit(
                    lambda call, seq: CallSlowResponse(
                        call=call,
                        seq=seq,
                        at=now,
                        identity=identity,
                        agent_name=names.get(identity),
                        response_s=response,
                    )
                )
        told = self._silence_told
        if told is not None and meter.silent_since_s != told:
            self._silence_told = None
            since, length = meter.at(told), rounded(meter.now_s - told)
            self._emit(
                lambda call, seq: CallSilenceEnded(
                    call=call, seq=seq, at=now, since=since, length_s=length
                )
            )
        self.arm()

    # -- deadlines ------------------------------------------------------------------------

    def _missing_at(self) -> datetime | None:
        meter, timeout = self.meter, self._limits.agent_timeout_s
        if self._missing_told or timeout <= 0 or meter.answered_s is None:
            return None
        if not meter.agents_joined:  # a call no agent joined is not judged
            return None
        if meter.first_speech_s is not None:
            return None
        return meter.at(meter.answered_s + timeout)

    def _silence_at(self) -> datetime | None:
        since, limit = self.meter.silent_since_s, self._limits.silence_s
        if limit <= 0 or since is None or since == self._silence_told:
            return None
        return self.meter.at(since + limit)

    def deadline(self) -> datetime | None:
        """The earliest health deadline still pending."""
        found = [d for d in (self._missing_at(), self._silence_at()) if d is not None]
        return min(found) if found else None

    def arm(self) -> None:
        at = self.deadline()
        if at is None or (self._timer_at is not None and self._timer_at <= at):
            return
        self.cancel()
        delay = max(0.0, (at - self._clock()).total_seconds())
        self._timer = asyncio.get_running_loop().call_later(delay, self._fired)
        self._timer_at = at

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None

    def _fired(self) -> None:
        self._timer = self._timer_at = None
        self.check()

    def check(self) -> None:
        """Raise what is due by the clock now, then wait for the next deadline."""
        now = self._clock()
        missing = self._missing_at()
        if missing is not None and now >= missing:
            self._missing_told = True
            waited = self._limits.agent_timeout_s
            agents = self.meter.agents_present
            self._emit(
                lambda call, seq: CallAgentMissing(
                    call=call, seq=seq, at=now, waited_s=waited, agents=agents
                )
            )
        silence = self._silence_at()
        since = self.meter.silent_since_s
        if silence is not None and since is not None and now >= silence:
            self._silence_told = since
            at_since = self.meter.at(since)
            silent = rounded((now - at_since).total_seconds())
            self._emit(
                lambda call, seq: CallSilence(
                    call=call, seq=seq, at=now, since=at_since, silent_s=silent
                )
            )
        self.arm()

    def ended(self, event: CallEnded) -> CallEnded:
        """`call.ended` with the call's figures; no more timers."""
        self.cancel()
        end = event.call.first_seen + timedelta(seconds=event.duration_s)
        return dataclasses.replace(event, health=self.meter.figures(end))
