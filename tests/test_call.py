"""Parsing a SIP participant's attributes into the call snapshot."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from agent.call import MAX_ATTRIBUTE_CHARS, CallStatus, Direction, parse_call

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TWILIO_INBOUND = {
    "sip.callID": "SCL_abc",
    "sip.callIDFull": "f00d@10.0.0.1",
    "sip.callTag": "tag-1",
    "sip.callStatus": "ringing",
    "sip.phoneNumber": "+15551230001",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.hostname": "pbx.twilio.com",
    "sip.trunkID": "ST_in",
    "sip.ruleID": "SDR_1",
    "sip.twilio.accountSid": "AC123",
    "sip.twilio.callSid": "CA999",
    "sip.h.x-customer-id": "42",
    "tier": "gold",
    "lk.agent.name": "x",
}


def parse(attrs: dict[str, str]):
    return parse_call(attrs, room="r1", identity="sip_1", participant_sid="PA_1", first_seen=NOW)


def test_inbound_twilio_call_is_fully_parsed() -> None:
    """Every documented key lands on its field; numbers follow the direction."""
    call = parse(TWILIO_INBOUND)
    assert call.call_id == "SCL_abc"
    assert call.direction is Direction.INBOUND
    assert call.status is CallStatus.RINGING
    assert (call.from_number, call.to_number) == ("+15551230001", "+15559870002")
    assert (call.sip_call_id, call.sip_call_tag) == ("f00d@10.0.0.1", "tag-1")
    assert (call.trunk_id, call.rule_id, call.hostname) == ("ST_in", "SDR_1", "pbx.twilio.com")
    assert call.trunk_number == "+15559870002"
    assert call.providers.twilio_account_sid == "AC123"
    assert call.twilio_call_sid == "CA999"
    assert call.custom == {"tier": "gold"}


def test_headers_are_case_insensitive() -> None:
    """`sip.h.x-customer-id` answers to X-Customer-Id, as SIP header names do."""
    call = parse(TWILIO_INBOUND)
    assert call.headers["X-Customer-Id"] == "42"
    assert "x-CUSTOMER-id" in call.headers
    assert call.headers.get("x-missing") is None


def test_outbound_when_no_dispatch_rule() -> None:
    """No `sip.ruleID` means outbound: the dialled number is `to`, the caller id `from`."""
    call = parse(
        {"sip.callID": "SCL_o", "sip.phoneNumber": "+1555", "sip.trunkPhoneNumber": "+1999"}
    )
    assert call.direction is Direction.OUTBOUND
    assert (call.from_number, call.to_number) == ("+1999", "+1555")


def test_hidden_numbers_are_normal() -> None:
    """A trunk that hides numbers leaves the keys out: the fields are None, nothing fails."""
    call = parse({"sip.callID": "SCL_h", "sip.ruleID": "SDR", "sip.callStatus": "active"})
    assert call.from_number is None and call.to_number is None and call.hostname is None


def test_unknown_status_is_kept_raw_and_flagged() -> None:
    call = parse({"sip.callStatus": "on-hold"})
    assert call.status is None
    assert call.raw_status == "on-hold"
    assert call.status_is_unknown


def test_huge_value_is_truncated() -> None:
    """A 64 KiB header is cut so it is not copied whole into every event."""
    call = parse({"sip.h.x-big": "x" * 65536})
    assert len(call.headers["x-big"]) < MAX_ATTRIBUTE_CHARS + 20
    assert call.headers["x-big"].endswith("[truncated]")


def test_missing_call_id_falls_back_to_identity() -> None:
    assert parse({}).call_id == "sip_1"


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=200), max_size=30))
def test_garbage_attributes_never_raise(attrs: dict[str, str]) -> None:
    call = parse(attrs)
    assert call.room == "r1"


@given(
    st.dictionaries(
        st.one_of(st.text(), st.integers(), st.none()), st.one_of(st.text(), st.binary(), st.none())
    )
)
def test_non_string_attributes_are_ignored(attrs: dict[object, object]) -> None:
    call = parse(attrs)  # type: ignore[arg-type]
    assert all(isinstance(v, str) for v in call.attributes.values())
