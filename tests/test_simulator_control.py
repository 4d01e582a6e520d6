"""Rules that act, played by the simulator: LiveKit's API is a local stand-in it answers."""

from pathlib import Path

import pytest

from agent.assembly import Mode, assemble
from agent.simulator import ScenarioError, find, load_scenario, play
from tests.test_simulator_cli import simulate

GOLD = "routing-gold-transfer-fails"
ROUTING = Path(__file__).resolve().parents[1] / "examples" / "routing.toml"
REQUESTS = [
    "-> LiveKit: CreateDispatch agent=support-agent (ok)",
    "-> LiveKit: TransferSIPParticipant caller to=tel:+15551230000 (603 Decline)",
    "-> LiveKit: RemoveParticipant caller (ok)",
]
CALL = '[calls.caller]\nstatus = "ringing"\n'


async def test_router_acts_through_the_api_stand_in() -> None:
    """Gold caller: agent dispatched, transfer declined with 603, hung up; one call.ended."""
    scenario = find(GOLD)
    assert scenario.rules == ROUTING
    lines: list[str] = []
    config = assemble(Mode.SIMULATE, rules=scenario.rules)
    result = await play(scenario, config, speed=0, out=lines.append)
    assert result.ok, result.failures
    assert result["caller"].types == (
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.transfer_failed",
        "call.ended",
    )
    ended = result["caller"].ended
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "agent",
        "PARTICIPANT_REMOVED",
    )
    assert [line for line in lines if line.startswith("-> LiveKit")] == REQUESTS


def test_action_logs_mask_the_number_in_the_identity(tmp_path: Path) -> None:
    """The caller's identity `sip_<number>` in call-action lines follows the privacy setting."""
    result = simulate(tmp_path, GOLD, "--speed", "0")
    actions = [line for line in result.stdout.splitlines() if "call action" in line]
    assert actions and all("identity=sip_********0007" in line for line in actions)
    assert "+15551230007" not in result.stdout
    failed = next(line for line in result.stdout.splitlines() if "call.transfer_failed" in line)
    # Any number in a line follows the setting, the transfer target's too.
    assert "sip_status_code=603" in failed and "transfer_to=tel:********0000" in failed


def test_the_command_plays_it_with_the_scenarios_own_rules(tmp_path: Path) -> None:
    """`simulate NAME` alone shows the requests the rules made, in order, and passes."""
    result = simulate(tmp_path, GOLD, "--speed", "0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    positions = [out.index(line) for line in REQUESTS]
    assert positions == sorted(positions)
    assert out.index("call.transfer_failed") < out.index(REQUESTS[2]) < out.index("call.ended")


def test_rules_option_replaces_the_scenarios(tmp_path: Path) -> None:
    """With other rules nobody transfers or hangs up: the call ends with the job."""
    rules = tmp_path / "quiet.toml"
    rules.write_text('[[rule]]\non = "call.started"\ndo = { log = "hello" }\n')
    result = simulate(tmp_path, GOLD, "--speed", "0", "--rules", str(rules))
    assert result.returncode == 1
    assert "-> LiveKit" not in result.stdout
    assert "!! caller: disconnect_reason JOB_ENDED, expected PARTICIPANT_REMOVED" in result.stdout


def test_a_mistake_in_the_scenarios_rules_is_one_line(tmp_path: Path) -> None:
    """A rules file the router refuses stops the play before it starts, in one line."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\non = "call.answered"\ndo = { transfer = { too = "tel:+1" } }\n')
    scenario = tmp_path / "calls.toml"
    scenario.write_text(f'rules = "rules.toml"\nsteps = [{{ join = "caller" }}]\n{CALL}')
    result = simulate(tmp_path, str(scenario))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sip-agent: rules file {rules}: rule[1].do.transfer: unknown key 'too';"
        " transfer takes headers, play_dialtone, ringing_timeout, to"
    ]


@pytest.mark.parametrize(
    ("top", "problem"),
    [
        ('rules = "missing.toml"', "rules: no rules file '"),
        ("[answers]\nxfer = {}", "answers.xfer: not a request; answered: hangup, hangup_all,"),
        (
            "[answers]\ntransfer = { sip_status = 200 }",
            "answers.transfer[1].sip_status: Input should be greater than or equal to 300",
        ),
        ("[answers]\ndial = [{}, { sip = 486 }]", "answers.dial[2]: unknown key 'sip'; an answer"),
        (
            "[answers]\nhangup = { sip_status = 486, error = 503 }",
            "answers.hangup[1]: give sip_status (the SIP service's answer) or error",
        ),
        ('[answers]\ntransfer = { reason = "no" }', "answers.transfer[1]: reason goes with"),
    ],
)
def test_bad_rules_or_answers(tmp_path: Path, top: str, problem: str) -> None:
    """`rules` and `[answers]` mistakes are refused in one line, before anything plays."""
    path = tmp_path / "broken.toml"
    path.write_text(f'steps = [{{ join = "caller" }}]\n{top}\n{CALL}')
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert "\n" not in str(exc.value)
    assert str(exc.value).removeprefix(f"{path}: ").startswith(problem)


def test_answers_in_order_then_success(tmp_path: Path) -> None:
    """A list of answers is used in order; requests beyond it succeed."""
    path = tmp_path / "answers.toml"
    path.write_text(
        f'steps = [{{ join = "caller" }}]\n[answers]\ndial = [{{ error = 503 }}, {{}}]\n{CALL}'
    )
    answers = load_scenario(path).answers["SIP/CreateSIPParticipant"]
    assert [getattr(answer, "status", "ok") for answer in answers] == [503, "ok"]
