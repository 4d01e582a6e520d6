"""A scenario file that cannot be played fails in one line naming the file, the step and why."""

from pathlib import Path

import pytest

from agent.simulator import ScenarioError, load_scenario

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
        ('{ join = "callr" }', "step 1 (join): unknown call 'callr'; calls: caller"),
        (
            '{ join = "caller" }, { set = "caller", status = "active", colour = "red" }',
            "step 2 (set): unknown key 'colour'; set takes ['attributes', 'remove', 'status']",
        ),
        ('{ set = "caller", status = "active" }', "step 1 (set): 'caller' is not in room"),
        ('{ join = "caller" }, { join = "caller" }', "step 2 (join): 'caller' is already in"),
        ('{ join = "caller" }, { wait = -1 }', "step 2 (wait): wait must be a number of seconds"),
        ('{ join = "caller" }, { dtmf = "caller", digits = "1x" }', "step 2 (dtmf): not DTMF"),
        (
            '{ join = "caller" }, { leave = "caller", reason = "BYE" }',
            "step 2 (leave): unknown disconnect reason 'BYE'; known: UNKNOWN_REASON,",
        ),
        ('{ join = "caller", wait = 2 }', "step 1: a step needs exactly one of join, set"),
        ('{ join = "caller" }, { delete_room = "nowhere" }', "step 2 (delete_room): unknown room"),
    ],
)
def test_bad_step(tmp_path: Path, steps: str, problem: str) -> None:
    """Each problem in a step is reported with the step's number and verb."""
    assert error_for(tmp_path, steps).startswith(problem)


def test_invalid_toml(tmp_path: Path) -> None:
    """A syntax error names the line."""
    assert error_for(tmp_path, "{ join = ").startswith("invalid TOML:")


def test_bad_expectation(tmp_path: Path) -> None:
    """An outcome that does not exist is refused before anything plays."""
    rest = CALL + '[expect.caller]\noutcome = "finished"\n'
    message = error_for(tmp_path, '{ join = "caller" }', rest)
    assert message == "expect.caller: 'finished' is not a valid Outcome"


def test_top_level_key_below_a_table(tmp_path: Path) -> None:
    """A key written under a [table] by mistake gets a hint about TOML's rule."""
    path = tmp_path / "late.toml"
    path.write_text(CALL + 'steps = [{ join = "caller" }]\n')
    with pytest.raises(ScenarioError, match="top-level keys go above the first"):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    """A file that is not there says so."""
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read"):
        load_scenario(tmp_path / "nope.toml")
