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
        ('"hang_up"', "unknown action 'hang_up'; known actions: call, dial, dispatch_agent"),
        ('{ transfer = { too = "tel:+1" } }', "`transfer` has no field(s) ['too']"),
        ("{ transfer = { play_dialtone = true } }", "`transfer` needs `to` (a string)"),
        (
            '{ transfer = { to = "tel:+1", ringing_timeout = "20s" } }',
            "`transfer.ringing_timeout` must be a whole number of seconds, got '20s'",
        ),
        ("{ hangup = { headers = { X-Why = 1 } } }", "`hangup.headers` must be a table of strings"),
        (
            '{ dispatch_agent = { agent_name = "a", metadata_from = "body" } }',
            "`dispatch_agent.metadata_from` must be one of headers, attributes, call, got 'body'",
        ),
        ('{ send_dtmf = "12x" }', "`send_dtmf` digits must be 0-9, *, #, A-D, got 'X'"),
        ('{ dial = { to = "+1555" } }', "`dial` needs `trunk` (a string)"),
    ],
)
def test_mistakes_name_file_rule_and_problem(tmp_path: Path, do: str, problem: str) -> None:
    """Each mistake stops loading with the file, the rule and the problem in one line."""
    path = tmp_path / "rules.toml"
    rules = '[[rule]]\non = "call.started"\ndo = "hangup"\n\n[[rule]]\non = "call.answered"\n'
    path.write_text(f"{rules}do = {do}\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"rules file {path}: rule 2 (on 'call.answered'): ")
    assert problem in message
