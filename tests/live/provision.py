"""Trunks and the dispatch rule, created through LiveKit's API from the deploy files.

The inbound trunk and the dispatch rule are the ones in `deploy/livekit/` as users create
them, changed only where a test needs it: the numbers dialled, and a second trunk that
gives up ringing quickly. The outbound trunk points at a sipp UAS on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format
from livekit import api

ROOT = Path(__file__).resolve().parents[2]
INBOUND_TRUNK_FILE = ROOT / "deploy/livekit/inbound-trunk.json"
DISPATCH_RULE_FILE = ROOT / "deploy/livekit/dispatch-rule.json"

NUMBER = "+15105550100"
"""Calls to this number land on the deploy file's trunk."""
QUICK_GIVE_UP_NUMBER = "+15105550199"
"""Calls to this number land on a copy of that trunk that rings for QUICK_RINGING_S only."""
QUICK_RINGING_S = 3
CALLER_ID = "+15105550111"
"""The number outbound calls come from."""


@dataclass(frozen=True)
class Provisioned:
    inbound_trunk_id: str
    quick_give_up_trunk_id: str
    dispatch_rule_id: str
    outbound_trunk_id: str
    uas_port: int
    """The outbound trunk sends its calls to a SIP phone (sipp UAS) on 127.0.0.1 here."""


def inbound_trunk_request(numbers: list[str]) -> api.CreateSIPInboundTrunkRequest:
    request = json_format.Parse(INBOUND_TRUNK_FILE.read_text(), api.CreateSIPInboundTrunkRequest())
    request.trunk.ClearField("numbers")
    request.trunk.numbers.extend(numbers)
    return request


def dispatch_rule_request() -> api.CreateSIPDispatchRuleRequest:
    return json_format.Parse(DISPATCH_RULE_FILE.read_text(), api.CreateSIPDispatchRuleRequest())


async def provision(lkapi: api.LiveKitAPI, uas_port: int) -> Provisioned:
    trunk = await lkapi.sip.create_inbound_trunk(inbound_trunk_request([NUMBER]))
    quick = inbound_trunk_request([QUICK_GIVE_UP_NUMBER])
    quick.trunk.name += " (quick give-up)"
    quick.trunk.ringing_timeout.FromSeconds(QUICK_RINGING_S)
    quick_trunk = await lkapi.sip.create_inbound_trunk(quick)
    rule = await lkapi.sip.create_dispatch_rule(dispatch_rule_request())
    outbound = api.SIPOutboundTrunkInfo(
        name="sip-agent live tests outbound",
        address=f"127.0.0.1:{uas_port}",
        transport=api.SIPTransport.SIP_TRANSPORT_UDP,
        numbers=[CALLER_ID],
    )
    out = await lkapi.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=outbound))
    return Provisioned(
        inbound_trunk_id=trunk.sip_trunk_id,
        quick_give_up_trunk_id=quick_trunk.sip_trunk_id,
        dispatch_rule_id=rule.sip_dispatch_rule_id,
        outbound_trunk_id=out.sip_trunk_id,
        uas_port=uas_port,
    )


@dataclass(frozen=True)
class Line:
    """A phone number of a test's own: an inbound trunk (the deploy file's, on `number`) and
    a dispatch rule (the deploy file's, limited to that trunk) that sends its calls to the
    worker registered as `agent_name`. Lets a test run a worker with settings of its own
    (rules, handlers) without competing with the session's worker for dispatches."""

    number: str
    agent_name: str
    trunk_id: str
    dispatch_rule_id: str


async def provision_line(
    lkapi: api.LiveKitAPI, number: str, agent_name: str, *, also: tuple[str, ...] = ()
) -> Line:
    """The line's rule dispatches `agent_name` and the agents named in `also` (a voice agent)."""
    trunk = await lkapi.sip.create_inbound_trunk(inbound_trunk_request([number]))
    rule = dispatch_rule_request()
    rule.dispatch_rule.name += f" ({agent_name})"
    rule.dispatch_rule.trunk_ids.append(trunk.sip_trunk_id)
    del rule.dispatch_rule.room_config.agents[:]
    for name in (agent_name, *also):
        rule.dispatch_rule.room_config.agents.add(agent_name=name)
    created = await lkapi.sip.create_dispatch_rule(rule)
    return Line(number, agent_name, trunk.sip_trunk_id, created.sip_dispatch_rule_id)
