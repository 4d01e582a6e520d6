"""Routing rules, in code and in TOML: matching, first-match-wins, clear errors."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import tracker
from agent.errors import ConfigError
from agent.events import CallEvent
from agent.handlers.router import Router, load_rules

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOLD_INBOUND = {
    "sip.callID": "SCL_1",
    "sip.ruleID": "SDR_1",
    "sip.trunkID": "ST_1",
    "sip.phoneNumber": "+19005550000",
    "sip.trunkPhoneNumber": "+15550001111",
    "sip.callStatus": "ringing",
    "sip.h.x-tier": "gold",
    "tier": "gold",
}


def started(attrs: dict[str, str]) -> CallEvent:
    return tracker.start(attrs, room="r", identity="sip_1", participant_sid="PA", now=T0)[1][0]


async def test_first_matching_rule_runs_only() -> None:
    router = Router()
    ran: list[str] = []

    @router.on("call.started", when={"direction": "inbound", "from": ["+1555*", "+1900*"]})
    async def premium(event: CallEvent) -> None:
        ran.append("premium")

    @router.on("call.started")
    async def everyone(event: CallEvent) -> None:
        ran.append("everyone")

    await router.handle(started(GOLD_INBOUND))
    await router.handle(started(GOLD_INBOUND | {"sip.phoneNumber": "+4420"}))
    assert ran == ["premium", "everyone"]


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ({"header.X-Tier": "gold"}, True),
        ({"header.x-tier": "silver"}, False),
        ({"attr.tier": "go*"}, True),
        ({"trunk": "ST_1", "rule": "SDR_1"}, True),
        ({"to": "+1555000111?"}, True),
        ({"status": ["active", "ringing"]}, True),
        ({"direction": "outbound"}, False),
        ({"header.x-missing": "*"}, False),
    ],
)
async def test_when_fields(when: dict, matches: bool) -> None:
    router = Router()
    ran: list[bool] = []

    @router.on("call.started", when=when)
    async def rule(event: CallEvent) -> None:
        ran.append(True)

    await router.handle(started(GOLD_INBOUND))
    assert bool(ran) is matches


async def test_where_predicate_in_code() -> None:
    router = Router()
    ran: list[str] = []

    @router.on("*", where=lambda call: call.custom.get("tier") == "gold")
    async def any_event(event: CallEvent) -> None:
        ran.append(event.type)

    await router.handle(started(GOLD_INBOUND))
    assert ran == ["call.started"]


def test_shipped_example_rules_load() -> None:
    rules = load_rules(Path("examples/rules.toml"))
    assert [r.on for r in rules] == ["call.started", "call.ended"]
    assert rules[0].name == "vip caller"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[rule]]\non = "call.started"\ndo = "teleport"', "unknown action 'teleport'"),
        ('[[rule]]\non = "call.begun"\ndo = { log = "x" }', "unknown event type 'call.begun'"),
        (
            '[[rule]]\non = "call.started"\nwhen = { colour = "red" }\ndo = { log = "x" }',
            "unknown field 'colour'",
        ),
        (
            '[[rule]]\non = "call.started"\nwhen = { from = 5 }\ndo = { log = "x" }',
            "rule[1].when.from[1]: Input should be a valid string (got 5)",
        ),
        ('[[rule]]\non = "call.started"\ndo = { log = 5 }', "`log` takes a message string"),
        ('[[rule]]\non = "call.started"', "rule[1].do: Field required"),
        ('[[rule]]\non = "call.started"\ndo = "hangup"\nif = 1', "rule[1]: unknown key 'if'"),
        ("[rules]\nx = 1", "unknown key 'rules'"),
        ("[[rule]\non = ", "invalid TOML"),
        (
            '[[rule]]\non = "call.started"\ndo = { call = "nowhere.mod:f" }',
            "cannot import module 'nowhere.mod'",
        ),
    ],
)
def test_mistakes_name_file_rule_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    message = str(info.value)
    assert str(path) in message and problem in message
    assert "\n" not in message
    if "invalid TOML" not in problem and "rules" not in problem:
        assert "rule[1]" in message


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    """A rules file in another encoding names the file, not a UnicodeDecodeError traceback."""
    path = tmp_path / "rules.toml"
    text = '[[rule]]\non = "call.started"\ndo = { log = "caf\u00e9" }\n'
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"rules\.toml: not UTF-8 text \(at byte offset 46\)"):
        load_rules(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rules file .*nope\.toml: cannot read it"):
        load_rules(tmp_path / "nope.toml")
