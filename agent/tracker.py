"""The call state machine: pure functions from (state, what happened) to (state, events).

No I/O and no clock of its own: the caller passes `now`, so every order of LiveKit's
events can be replayed and checked exhaustively.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from .call import STATUS_KEY, Call, CallStatus, clean_attributes, parse_call, with_attributes
from .events import (
    CallAnswered,
    CallDtmf,
    CallEnded,
    CallEvent,
    CallStarted,
    CallStatusChanged,
    CallTransferSucceeded,
    CallUpdated,
)
from .outcome import EndReason, classify

_BEFORE_ANSWER = frozenset({CallStatus.DIALING.value, CallStatus.RINGING.value})


@dataclass(frozen=True, slots=True)
class CallState:
    call: Call
    seq: int = 0
    answered_at: datetime | None = None
    hangup_at: datetime | None = None
    ended: bool = False
    transferred_to: str | None = None
    """Where a transfer this worker asked for sent the call, once the far end accepted it."""
    agent_hangup: bool = False
    """This worker asked the SIP service to hang up (EndCall): the BYE is LiveKit's, not the
    remote party's, though the room shows it the same way."""

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


Step = tuple[CallState, list[CallEvent]]


# States are built field by field: `dataclasses.replace` costs several times more, and
# this runs for every event of every call.
def _with(
    state: CallState,
    call: Call,
    seq: int,
    *,
    answered_at: datetime | None = None,
    hangup_at: datetime | None = None,
    ended: bool = False,
) -> CallState:
    """`state` with a new call and seq; the other fields kept unless given."""
    return CallState(
        call=call,
        seq=seq,
        answered_at=answered_at or state.answered_at,
        hangup_at=hangup_at or state.hangup_at,
        ended=ended or state.ended,
        transferred_to=state.transferred_to,
        agent_hangup=state.agent_hangup,
    )


def _next(state: CallState, call: Call) -> tuple[CallState, int]:
    seq = state.seq + 1
    return _with(state, call, seq), seq


def start(
    attributes: Mapping[str, str],
    *,
    room: str,
    identity: str,
    participant_sid: str,
    now: datetime,
) -> Step:
    """First sight of a SIP participant: `call.started`, then what its status already says."""
    call = parse_call(
        attributes, room=room, identity=identity, participant_sid=participant_sid, first_seen=now
    )
    state = CallState(call=call, seq=1)
    events: list[CallEvent] = [CallStarted(call=call, seq=1, at=now)]
    return _status_effects(state, events, now)


def _status_effects(state: CallState, events: list[CallEvent], now: datetime) -> Step:
    """`call.answered` on the first `active`; remember when `hangup` was first written."""
    status = state.call.status
    if status is CallStatus.ACTIVE and not state.answered:
        state, seq = _next(state, state.call)
        state = _with(state, state.call, state.seq, answered_at=now)
        ringing = (now - state.call.first_seen).total_seconds()
        events.append(CallAnswered(call=state.call, seq=seq, at=now, ringing_s=ringing))
    if status is CallStatus.HANGUP and state.hangup_at is None:
        state = _with(state, state.call, state.seq, hangup_at=now)
    return state, events


def update(state: CallState, attributes: Mapping[str, str], *, now: datetime) -> Step:
    """The participant's full attribute set after a change (LiveKit sends the whole set)."""
    if state.ended:
        return state, []
    old_attrs = state.call.attributes
    new_attrs, dropped = clean_attributes(attributes)
    if state.answered and new_attrs.get(STATUS_KEY) in _BEFORE_ANSWER and STATUS_KEY in old_attrs:
        # An answered call does not ring again: that status is stale (a participant
        # announced again after a server restart carries its join-time status).
        new_attrs = {**new_attrs, STATUS_KEY: old_attrs[STATUS_KEY]}
    if new_attrs == old_attrs:
        return state, []
    old = state.call
    new = with_attributes(old, new_attrs, dropped)
    events: list[CallEvent] = []
    added: dict[str, str] = {}
    changed: dict[str, str] = {}
    for key, value in new_attrs.items():
        before = old_attrs.get(key)
        if before is None:
            added[key] = value
        elif before != value:
            changed[key] = value
    # Only look for removed keys when the counts say some are gone.
    gone = len(old_attrs) - (len(new_attrs) - len(added))
    removed = tuple(k for k in old_attrs if k not in new_attrs) if gone else ()
    # The status has events of its own.
    added.pop(STATUS_KEY, None)
    changed.pop(STATUS_KEY, None)
    removed = tuple(k for k in removed if k != STATUS_KEY)
    if new.raw_status != old.raw_status and new.raw_status is not None:
        state, seq = _next(state, new)
        events.append(
            CallStatusChanged(
                call=new,
                seq=seq,
                at=now,
                previous=old.status,
                previous_raw=old.raw_status,
                status=new.status,
                raw=new.raw_status,
            )
        )
        state, events = _status_effects(state, events, now)
    if added or changed or removed:
        state, seq = _next(state, new)
        events.append(
            CallUpdated(call=new, seq=seq, at=now, added=added, changed=changed, removed=removed)
        )
    return _with(state, new, state.seq), events


def dtmf(state: CallState, *, digit: str, code: int, now: datetime) -> Step:
    if state.ended:
        return state, []
    state, seq = _next(state, state.call)
    return state, [CallDtmf(call=state.call, seq=seq, at=now, digit=digit, code=code)]


def note(state: CallState, build: Callable[[Call, int], CallEvent]) -> Step:
    """An event from outside the room (an action's result) with the call's next seq.

    Results can come after the end (a transfer's answer racing the leg's disconnect): they
    are still facts about the call, ordered after `call.ended` by their seq.
    """
    state, seq = _next(state, state.call)
    return state, [build(state.call, seq)]


def transferred(state: CallState, *, to: str, now: datetime) -> Step:
    """A transfer this worker asked for was accepted: LiveKit ends the leg itself next (BYE,
    `hangup`, CLIENT_INITIATED), and that end is the transfer's, not the remote party's."""
    state, seq = _next(state, state.call)
    # Rare, off the hot path: `replace` names the one field that changes.
    state = dataclasses.replace(state, transferred_to=to)
    return state, [CallTransferSucceeded(call=state.call, seq=seq, at=now, to=to)]


def agent_hangup(state: CallState, *, asked: bool) -> CallState:
    """This worker asks the SIP service to hang up (`asked`), or that request failed."""
    return dataclasses.replace(state, agent_hangup=asked)


def end(
    state: CallState,
    *,
    reason: str,
    now: datetime,
    sip_status_code: int | None = None,
) -> Step:
    """The call is over, for `reason` (a disconnect reason name or JOB_ENDED). Idempotent."""
    if state.ended:
        return state, []
    call = state.call
    # A `hangup` written before the disconnect marks the real end of the conversation.
    ended_at = state.hangup_at or now
    outcome, ended_by = classify(
        answered=state.answered,
        direction=call.direction,
        reason=reason,
        hangup_written=state.hangup_at is not None,
        ended_by_agent=state.transferred_to is not None or state.agent_hangup,
    )
    answered_at = state.answered_at
    state, seq = _next(state, call)
    state = _with(state, call, seq, ended=True)
    event = CallEnded(
        call=call,
        seq=seq,
        at=now,
        outcome=outcome,
        ended_by=ended_by,
        disconnect_reason=reason,
        last_status=call.status,
        duration_s=max(0.0, (ended_at - call.first_seen).total_seconds()),
        ringing_s=max(0.0, ((answered_at or ended_at) - call.first_seen).total_seconds()),
        talk_s=max(0.0, (ended_at - answered_at).total_seconds()) if answered_at else 0.0,
        sip_status_code=sip_status_code,
        transferred_to=state.transferred_to,
    )
    return state, [event]


def end_after_hangup(state: CallState, *, now: datetime) -> Step:
    """`hangup` was written and no disconnect followed in time: the remote party hung up."""
    return end(state, reason=EndReason.CLIENT_INITIATED, now=now)
