"""A scenario file that cannot be played fails in one line naming the file, the step and why."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.simulator import ScenarioError, SetAttributes, Wait, load_scenario, parse_scenario
from agent.simulator.schema import MAX_SECONDS

CALL = """
[calls.caller]
status = "ringing"
attributes = { "sip.callID" = "SCL_1", "sip.phoneNumber" = "+15551234567", "sip.ruleID" = "R" }
"""


def error_for(tmp_path: Path, steps: str, rest: str = CALL) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(f"steps = [\n{steps}\n]\n{rest}")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ('{ join = "callr" }', "steps[1].join: unknown call 'callr'; calls: caller"),
        (
            '{ join = "caller" }, { set = "caller", status = "active", colour = "red" }',
            "steps[2].set: unknown key 'colour'; a set step takes attributes, note, remove, set,",
        ),
        ('{ set = "caller", status = "active" }', "steps[1].set: 'caller' is not in room"),
        ('{ join = "caller" }, { join = "caller" }', "steps[2].join: 'caller' is already in"),
        ('{ join = "caller" }, { wait = -1 }', "steps[2].wait: Input should be greater than or"),
        ('{ join = "caller" }, { wait = nan }', "steps[2].wait: Input should be a finite number"),
        ('{ join = "caller" }, { wait = inf }', "steps[2].wait: Input should be a finite number"),
        ('{ join = "caller" }, { wait = 1e300 }', "steps[2].wait: Input should be less than or"),
        ('{ join = "caller" }, { wait = true }', "steps[2].wait: Input should be a valid number"),
        ('{ join = "caller" }, { dtmf = "caller", digits = "1x" }', "steps[2].dtmf.digits: not"),
        (
            '{ join = "caller" }, { leave = "caller", reason = "BYE" }',
            "steps[2].leave.reason: unknown disconnect reason 'BYE'; known: UNKNOWN_REASON,",
        ),
        ('{ join = "caller", wait = 2 }', "steps[1]: a step is a table with exactly one of join,"),
        ('{ join = "caller" }, { delete_room = "nowhere" }', "steps[2].delete_room: unknown room"),
        ('{ join = "caller" }, { set = "caller" }', "steps[2].set: nothing to set"),
        (
            '{ join = "caller" }, { leave = "caller" }, { join = "caller" }',
            "steps[3].join: 'caller' joined before: a second call from the same phone is a call",
        ),
    ],
)
def test_bad_step(tmp_path: Path, steps: str, problem: str) -> None:
    """Each problem in a step is reported with the step's place (counted from 1) and verb."""
    assert error_for(tmp_path, steps).startswith(problem)


def test_invalid_toml(tmp_path: Path) -> None:
    """A syntax error names the line."""
    assert error_for(tmp_path, "{ join = ").startswith("invalid TOML:")


def test_bad_expectation(tmp_path: Path) -> None:
    """An outcome that does not exist is refused before anything plays."""
    rest = CALL + '[expect.caller]\noutcome = "finished"\n'
    message = error_for(tmp_path, '{ join = "caller" }', rest)
    assert message == (
        "expect.caller.outcome: Input should be 'completed', 'busy', 'no-answer', 'canceled'"
        " or 'failed' (got 'finished')"
    )


def test_top_level_key_below_a_table(tmp_path: Path) -> None:
    """A key written under a [table] by mistake gets a hint about TOML's rule."""
    path = tmp_path / "late.toml"
    path.write_text(CALL + 'steps = [{ join = "caller" }]\n')
    with pytest.raises(ScenarioError, match="top-level keys go above the first"):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    """A file that is not there says so."""
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read it"):
        load_scenario(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("rest", "problem"),
    [
        (
            CALL + 'kind = "ROBOT"\n',
            "calls.caller.kind: unknown participant kind 'ROBOT'; known: STANDARD,",
        ),
        (
            CALL + "[calls.other]\nattributes = 3\n",
            "calls.other.attributes: must be a table (got 3)",
        ),
        (
            CALL + '[calls.other]\nidentity = "sip_+15551234567"\nroom = "caller"\n',
            "steps[2].join: 'other' has the identity 'sip_+15551234567' of 'caller', which is",
        ),
        (CALL + '[expect.nobody]\noutcome = "busy"\n', "expect.nobody: no such call"),
    ],
)
def test_bad_call(tmp_path: Path, rest: str, problem: str) -> None:
    """A participant kind LiveKit lacks, or two calls of one identity in a room at once."""
    assert error_for(tmp_path, '{ join = "caller" }, { join = "other" }', rest).startswith(problem)


def test_remove_takes_one_key_as_a_string(tmp_path: Path) -> None:
    """`remove = "sip.callStatus"` removes that key, not its letters."""
    path = tmp_path / "remove.toml"
    path.write_text(
        'steps = [{ join = "caller" }, { set = "caller", remove = "sip.callStatus" }]\n' + CALL
    )
    step = load_scenario(path).steps[1]
    assert isinstance(step, SetAttributes)
    assert step.attributes == {"sip.callStatus": None}


def test_not_utf8(tmp_path: Path) -> None:
    """A file in another encoding is one line, not a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert str(exc.value) == f"{path}: not UTF-8 text (at byte offset 18): TOML files are UTF-8"


@given(seconds=st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.booleans())
def test_any_wait_is_played_or_refused_in_one_line(seconds: float) -> None:
    """Whatever number a wait gets, it is a finite time from 0 to a day, or a one-line error."""
    data = {"steps": [{"join": "caller"}, {"wait": seconds}], "calls": {"caller": {}}}
    try:
        step = parse_scenario(data, name="s", source="s").steps[1]
    except ScenarioError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("s: steps[2].wait: ")
    else:
        assert isinstance(step, Wait) and 0 <= step.seconds <= MAX_SECONDS
