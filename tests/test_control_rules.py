"""Call-control actions in rules files: the shipped example loads, mistakes stop start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.handlers.router import load_rules

EXAMPLE = Path(__file__).parent.parent / "examples" / "routing.toml"


def test_example_rules_load() -> None:
    """examples/routing.toml is valid: four rules, in file order."""
    rules = load_rules(EXAMPLE)
    assert [(r.on, r.name) for r in rules] == [
        ("call.started", "rule 1: hangup"),
        ("call.answered", "rule 2: transfer"),
        ("call.transfer_failed", "rule 3: hangup"),
        ("call.started", "rule 4: dispatch_agent"),
    ]


@pytest.mark.parametrize(
    ("do", "problem"),
    [
        ('"hang_up"', "do: unknown action 'hang_up'; known actions: call, dial, dispatch_agent"),
        (
            '{ transfer = { too = "tel:+1" } }',
            "do.transfer: unknown key 'too'; transfer takes headers, play_dialtone,",
        ),
        ("{ transfer = { play_dialtone = true } }", "do.transfer.to: Field required"),
        (
            '{ transfer = { to = "tel:+1", ringing_timeout = "20s" } }',
            "do.transfer.ringing_timeout: Input should be a valid integer (got '20s')",
        ),
        (
            "{ hangup = { headers = { X-Why = 1 } } }",
            "do.hangup.headers.X-Why: Input should be a valid string (got 1)",
        ),
        (
            '{ dispatch_agent = { agent_name = "a", metadata_from = "body" } }',
            "do.dispatch_agent.metadata_from: Input should be 'headers', 'attributes' or 'call'",
        ),
        ('{ send_dtmf = "12x" }', "do.send_dtmf.digits: digits must be 0-9, *, #, A-D, got 'X'"),
        ('{ dial = { to = "+1555" } }', "do.dial.trunk: Field required"),
        ('{ transfer = "tel:+1" }', "do.transfer: must be a table (got 'tel:+1')"),
        ("{ set_attributes = { tier = 1 } }", "do.set_attributes.tier: Input should be a valid"),
    ],
)
def test_mistakes_name_file_rule_and_problem(tmp_path: Path, do: str, problem: str) -> None:
    """Each mistake stops loading with the file, the rule's place and the problem in one line."""
    path = tmp_path / "rules.toml"
    rules = '[[rule]]\non = "call.started"\ndo = "hangup"\n\n[[rule]]\non = "call.answered"\n'
    path.write_text(f"{rules}do = {do}\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"rules file {path}: rule[2].{problem}" or message.startswith(
        f"rules file {path}: rule[2].{problem}"
    )
