"""Example call logic, referenced from examples/rules.toml and usable in SIP_AGENT_HANDLERS."""

from agent import CallEnded, CallEvent


async def on_call_ended(event: CallEvent) -> None:
    """A router action: runs for calls whose last status was `hangup` or `active`."""
    if isinstance(event, CallEnded):
        print(f"call {event.call_id} ended: {event.outcome} after {event.talk_s:.0f}s of talk")
