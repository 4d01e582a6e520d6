"""The `log` handler: one JSON line per event with the fields operators grep for."""

import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from agent import tracker
from agent.errors import ConfigError
from agent.handlers import LogHandler
from agent.handlers.registry import resolve
from agent.logs import make_logger
from agent.privacy import mask_numbers_in
from agent.scrub import ScrubRecords, scrubber
from agent.settings import PhoneNumbers, load_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TWILIO = {
    "sip.callID": "SCL_1",
    "sip.ruleID": "SDR_1",
    "sip.trunkID": "ST_1",
    "sip.callStatus": "ringing",
    "sip.phoneNumber": "+15551230001",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.twilio.callSid": "CA42",
}


async def log_lines(phone_numbers: str = "masked", room: str = "call-r") -> list[dict]:
    settings = load_settings(log_format="json", phone_numbers=phone_numbers)
    stream = io.StringIO()
    handler = LogHandler(settings, make_logger(settings, stream))
    state, events = tracker.start(TWILIO, room=room, identity="sip_1", participant_sid="PA", now=T0)
    state, more = tracker.update(
        state, TWILIO | {"sip.callStatus": "active"}, now=T0 + timedelta(seconds=3)
    )
    events += more
    state, more = tracker.end(state, reason="CLIENT_INITIATED", now=T0 + timedelta(seconds=63))
    for event in events + more:
        await handler.handle(event)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_one_json_line_per_event_with_call_context() -> None:
    lines = await log_lines()
    assert [line["event"] for line in lines] == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.ended",
    ]
    for line in lines:
        assert line["call_id"] == "SCL_1" and line["twilio_call_sid"] == "CA42"
        assert line["room"] == "call-r" and line["direction"] == "inbound"
    ended = lines[-1]
    assert ended["status"] == "active"
    assert ended["outcome"] == "completed" and ended["ended_by"] == "caller"
    assert ended["disconnect_reason"] == "CLIENT_INITIATED" and ended["duration_s"] == 63


async def test_numbers_masked_by_default() -> None:
    line = (await log_lines())[0]
    assert line["from"] == "********0001" and line["to"] == "********0002"
    assert "+15551230001" not in json.dumps(line)


async def test_numbers_whole_when_configured() -> None:
    line = (await log_lines("full"))[0]
    assert line["from"] == "+15551230001"


async def test_numbers_masked_anywhere_in_a_line() -> None:
    """The deploy file's dispatch rule names rooms after the caller (`call-_+1555…_x`, seen
    on the real server): the number is masked there too, and in any format."""
    lines = await log_lines(room="call-_+15551230001_kX3")
    assert {line["room"] for line in lines} == {"call-_********0001_kX3"}
    assert all("+15551230001" not in json.dumps(line) for line in lines)
    assert mask_numbers_in("to +44 20 7946 0958, from sip_+15551230001") == (
        "to ************0958, from sip_********0001"
    )
    # Ids and times are not numbers.
    assert mask_numbers_in("CA0123456789abcdef at 2026-11-30T18:49:38Z") == (
        "CA0123456789abcdef at 2026-11-30T18:49:38Z"
    )
    whole = await log_lines("full", room="call-_+15551230001_kX3")
    assert {line["room"] for line in whole} == {"call-_+15551230001_kX3"}


async def test_numbers_in_attribute_values_are_masked_in_any_form() -> None:
    """A P-Asserted-Identity header or a custom attribute holding a number, with or
    without `+`, in a `call.updated` line: masked like the call's own numbers."""
    settings = load_settings(log_format="json")
    stream = io.StringIO()
    handler = LogHandler(settings, make_logger(settings, stream))
    state, events = tracker.start(TWILIO, room="r", identity="sip_1", participant_sid="PA", now=T0)
    written = {
        "sip.h.p-asserted-identity": "<sip:15551230001@carrier.example>",
        "callback": "(555) 123-0001",
        "alt": "+44 20 7946 0958",
    }
    state, more = tracker.update(state, TWILIO | written, now=T0)
    for event in events + more:
        await handler.handle(event)
    text = stream.getvalue()
    for digits in ("15551230001", "5551230001", "123-0001", "7946"):
        assert digits not in text
    updated = json.loads(text.splitlines()[-1])
    assert updated["added"]["callback"] == "**********0001"


def test_credentials_and_control_characters_never_reach_a_line() -> None:
    """A webhook URL with a password or a token, an attribute with an ESC sequence: hidden
    and escaped, in both formats, whatever the privacy setting."""
    for log_format in ("json", "console"):
        settings = load_settings(log_format=log_format, phone_numbers="full")
        stream = io.StringIO()
        log = make_logger(settings, stream)
        log.warning(
            "webhook delivery failed",
            url="http://user:pass@hooks.example/hook?token=abc123&api_key=k-9",
            header="\x1b[2J\x1b[31mred\x00",
        )
        line = stream.getvalue()
        for secret in ("user:pass", "abc123", "k-9", "\x1b[", "\x00"):
            assert secret not in line, (log_format, line)
        assert "hooks.example/hook" in line and "red" in line


def test_library_log_lines_are_masked_too() -> None:
    """livekit-agents' own lines (`received job request` names the room) go through the
    standard library's handlers: the filter masks their message and extra fields."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(room)s"))
    scrub = ScrubRecords(scrubber(PhoneNumbers.MASKED))
    handler.addFilter(scrub)
    log = logging.getLogger("test.library.masking")
    log.addHandler(handler)
    try:
        log.warning("job for %s", "sip_+15551230001", extra={"room": "call-_+15551230001_x"})
        url = "https://bot:hunter2@hooks.example/in?token=s3cr3t&x=1"
        log.error("POST %s failed", url, extra={"room": "-"})
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "job for sip_********0001 call-_********0001_x",
        "POST https://***@hooks.example/in?token=***&x=1 failed -",
    ]
    # A malformed call is the library's problem to report, never an exception from the filter.
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    assert scrub.filter(broken) is True


def test_unknown_handler_name_fails_with_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown handler 'mail'.*use one of log, router"):
        resolve(["mail"], load_settings())


def test_bad_import_path_is_named() -> None:
    with pytest.raises(ConfigError, match=r"handler 'examples.handlers:nope'.*no attribute 'nope'"):
        resolve(["examples.handlers:nope"], load_settings())


def test_import_path_to_async_function_is_a_handler() -> None:
    (factory,) = resolve(["examples.handlers:on_call_ended"], load_settings())
    handler = factory(load_settings())
    assert handler.name == "on_call_ended"


def test_import_path_to_non_handler_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected an `async def f\\(event\\)`"):
        resolve(["agent.call:MAX_ATTRIBUTE_CHARS"], load_settings())
