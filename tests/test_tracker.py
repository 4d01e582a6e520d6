"""The call state machine, driven directly with every order LiveKit may produce."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import tracker
from agent.events import CallAnswered, CallEnded, CallStarted, CallStatusChanged, CallUpdated
from agent.outcome import EndedBy, Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INBOUND = {"sip.callID": "SCL_1", "sip.ruleID": "SDR_1", "sip.callStatus": "ringing"}
OUTBOUND = {"sip.callID": "SCL_2", "sip.callStatus": "dialing"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def begin(attrs: dict[str, str]):
    return tracker.start(attrs, room="r", identity="sip_1", participant_sid="PA", now=T0)


def types(events) -> list[str]:
    return [e.type for e in events]


def test_answered_inbound_call_then_caller_hangs_up() -> None:
    """ringing -> active -> hangup -> disconnect: one answered, one ended, durations right."""
    state, events = begin(INBOUND)
    state, e2 = tracker.update(state, INBOUND | {"sip.callStatus": "active"}, now=at(5))
    state, e3 = tracker.update(state, INBOUND | {"sip.callStatus": "hangup"}, now=at(65))
    state, e4 = tracker.end(state, reason="CLIENT_INITIATED", now=at(65.2))
    all_events = events + e2 + e3 + e4
    assert types(all_events) == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ]
    assert [e.seq for e in all_events] == [1, 2, 3, 4, 5]
    answered = all_events[2]
    assert isinstance(answered, CallAnswered) and answered.ringing_s == 5
    ended = all_events[-1]
    assert isinstance(ended, CallEnded)
    assert (ended.outcome, ended.ended_by) == (Outcome.COMPLETED, EndedBy.CALLER)
    assert (ended.duration_s, ended.ringing_s, ended.talk_s) == (65, 5, 60)


def test_never_answered_inbound_call_is_no_answer() -> None:
    """Rings out (LiveKit's ringing timeout): no `hangup`, CLIENT_INITIATED: no-answer."""
    state, _ = begin(INBOUND)
    state, events = tracker.end(state, reason="CLIENT_INITIATED", now=at(180))
    (ended,) = events
    assert isinstance(ended, CallEnded)
    assert (ended.outcome, ended.ended_by) == (Outcome.NO_ANSWER, EndedBy.SYSTEM)
    assert (ended.ringing_s, ended.duration_s) == (180, 180)


def test_transfer_accepted_then_livekit_ends_the_leg() -> None:
    """transfer accepted -> `hangup` -> CLIENT_INITIATED: ended by the agent, target named."""
    state, _ = begin(INBOUND)
    state, _ = tracker.update(state, INBOUND | {"sip.callStatus": "active"}, now=at(2))
    state, events = tracker.transferred(state, to="tel:+15550009999", now=at(30))
    assert types(events) == ["call.transfer_succeeded"] and events[0].seq == 4
    state, _ = tracker.update(state, INBOUND | {"sip.callStatus": "hangup"}, now=at(31))
    state, events = tracker.end(state, reason="CLIENT_INITIATED", now=at(31))
    (ended,) = events
    assert isinstance(ended, CallEnded)
    assert (ended.outcome, ended.ended_by) == (Outcome.COMPLETED, EndedBy.AGENT)
    assert ended.transferred_to == "tel:+15550009999"
    assert (ended.seq, ended.talk_s) == (6, 29)


def test_an_answered_call_does_not_ring_again() -> None:
    """`ringing` after `active` is a stale snapshot (a participant back after a server
    restart carries its join-time status): no status change, other changes still count."""
    state, _ = begin(INBOUND)
    state, _ = tracker.update(state, INBOUND | {"sip.callStatus": "active"}, now=at(2))
    state, events = tracker.update(state, INBOUND | {"sip.callStatus": "ringing"}, now=at(9))
    assert events == [] and state.call.raw_status == "active"
    state, events = tracker.update(
        state, INBOUND | {"sip.callStatus": "ringing", "tier": "gold"}, now=at(10)
    )
    assert types(events) == ["call.updated"] and state.call.raw_status == "active"
    hangup = INBOUND | {"sip.callStatus": "hangup", "tier": "gold"}
    state, events = tracker.update(state, hangup, now=at(20))
    assert types(events) == ["call.status_changed"]


def test_status_change_only_on_real_change() -> None:
    state, _ = begin(INBOUND)
    state, events = tracker.update(state, dict(INBOUND), now=at(1))
    assert events == []


def test_late_twilio_call_sid_is_an_update() -> None:
    """On outbound calls the CallSid arrives with the 18x/200: a call.updated, keys listed."""
    state, _ = begin(OUTBOUND)
    state, events = tracker.update(
        state, OUTBOUND | {"sip.callStatus": "ringing", "sip.twilio.callSid": "CA1"}, now=at(1)
    )
    assert types(events) == ["call.status_changed", "call.updated"]
    updated = events[1]
    assert isinstance(updated, CallUpdated)
    assert updated.added == {"sip.twilio.callSid": "CA1"} and updated.call.twilio_call_sid == "CA1"


def test_removed_attribute_is_reported() -> None:
    state, _ = begin(INBOUND | {"tier": "gold"})
    state, events = tracker.update(state, INBOUND, now=at(1))
    assert isinstance(events[0], CallUpdated) and events[0].removed == ("tier",)


def test_unknown_status_is_a_status_change_with_raw_value() -> None:
    state, _ = begin(INBOUND)
    state, events = tracker.update(state, INBOUND | {"sip.callStatus": "parked"}, now=at(1))
    change = events[0]
    assert isinstance(change, CallStatusChanged)
    assert change.status is None and change.raw == "parked"


def test_call_first_seen_active_is_answered_at_once() -> None:
    _, events = begin(INBOUND | {"sip.callStatus": "active"})
    assert types(events) == ["call.started", "call.answered"]


def test_hangup_alone_ends_as_remote_hangup() -> None:
    """`hangup` with no disconnect (grace over): as if CLIENT_INITIATED."""
    state, _ = begin(INBOUND | {"sip.callStatus": "active"})
    state, _ = tracker.update(state, INBOUND | {"sip.callStatus": "hangup"}, now=at(30))
    state, events = tracker.end_after_hangup(state, now=at(32))
    ended = events[0]
    assert isinstance(ended, CallEnded)
    assert ended.disconnect_reason == "CLIENT_INITIATED" and ended.duration_s == 30


def test_nothing_after_the_end() -> None:
    state, _ = begin(INBOUND)
    state, _ = tracker.end(state, reason="CLIENT_INITIATED", now=at(1))
    assert tracker.update(state, INBOUND | {"sip.callStatus": "active"}, now=at(2))[1] == []
    assert tracker.dtmf(state, digit="1", code=1, now=at(2))[1] == []
    assert tracker.end(state, reason="ROOM_DELETED", now=at(2))[1] == []


STATUSES = st.sampled_from(["dialing", "ringing", "automation", "active", "hangup", "weird", ""])
REASONS = st.sampled_from(
    [
        "CLIENT_INITIATED",
        "USER_REJECTED",
        "USER_UNAVAILABLE",
        "PARTICIPANT_REMOVED",
        "ROOM_DELETED",
        "SIP_TRUNK_FAILURE",
        "UNKNOWN_REASON",
        "JOB_ENDED",
    ]
)
STEP = st.one_of(
    st.tuples(st.just("status"), STATUSES),
    st.tuples(
        st.just("attr"), st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
    ),
    st.tuples(st.just("dtmf"), st.sampled_from("0123456789*#")),
    st.tuples(st.just("end"), REASONS),
    st.tuples(st.just("hangup_grace"), st.none()),
)


@settings(max_examples=300)
@given(st.booleans(), st.lists(STEP, max_size=25), REASONS)
def test_any_order_gives_exactly_one_end(inbound: bool, steps, final_reason: str) -> None:
    """Whatever order or duplication of changes, hangups and disconnects: one call.ended,
    last, with an outcome from the table; sequence numbers count up from 1 with no gap."""
    attrs = dict(INBOUND if inbound else OUTBOUND)
    state, events = begin(attrs)
    for i, (kind, value) in enumerate(steps, start=1):
        now = at(i)
        if kind == "status":
            attrs["sip.callStatus"] = value
            state, new = tracker.update(state, attrs, now=now)
        elif kind == "attr":
            attrs = {k: v for k, v in attrs.items() if k.startswith("sip.")} | value
            state, new = tracker.update(state, attrs, now=now)
        elif kind == "dtmf":
            state, new = tracker.dtmf(state, digit=value, code=0, now=now)
        elif kind == "end":
            state, new = tracker.end(state, reason=value, now=now)
        else:
            new = tracker.end_after_hangup(state, now=now)[1] if state.hangup_at else []
            if new:
                state = tracker.end_after_hangup(state, now=now)[0]
        events += new
    state, new = tracker.end(state, reason=final_reason, now=at(100))
    events += new
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert len(ended) == 1
    assert events[-1] is ended[0]
    assert isinstance(events[0], CallStarted)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert ended[0].outcome in set(Outcome)
    assert sum(isinstance(e, CallAnswered) for e in events) <= 1
    assert ended[0].duration_s >= ended[0].talk_s >= 0
