"""An example of YOUR test suite: your handler, driven by the simulator (copy and adapt).

The `sip_simulator` fixture comes with this package (a pytest plugin); outside it, add
`pytest_plugins = ["agent.simulator.pytest_plugin"]` to your root conftest.py.
"""

from agent import CallEnded, CallEvent, Outcome
from agent.simulator.pytest_plugin import SipSimulator


class MissedCalls:
    """The handler under test: remembers who hung up before anyone answered."""

    name = "missed-calls"

    def __init__(self) -> None:
        self.numbers: list[str | None] = []

    async def handle(self, event: CallEvent) -> None:
        if isinstance(event, CallEnded) and event.outcome is Outcome.CANCELED:
            self.numbers.append(event.call.from_number)

    async def aclose(self) -> None:
        return None


async def test_a_caller_who_gives_up_is_a_missed_call(sip_simulator: SipSimulator) -> None:
    """A shipped scenario, played through the real worker with my handler."""
    missed = MissedCalls()
    await sip_simulator.play("inbound-canceled-while-ringing", handlers=[missed])
    assert missed.numbers == ["+15551230001"]


async def test_an_answered_call_is_not_missed(sip_simulator: SipSimulator) -> None:
    """A call built in code; `expect` makes the simulator check how it ended, too."""
    missed = MissedCalls()
    script = (
        sip_simulator.script("answered")
        .call("caller", status="ringing", attributes={"sip.phoneNumber": "+15550002222"})
        .join("caller")
        .wait(3)
        .set("caller", status="active")
        .wait(60)
        .leave("caller", "PARTICIPANT_REMOVED")
        .expect("caller", outcome="completed", ended_by="agent", talk_s=60)
    )
    result = await sip_simulator.play(script, handlers=[missed])
    assert missed.numbers == []
    assert result["caller"].ended.ringing_s == 3
