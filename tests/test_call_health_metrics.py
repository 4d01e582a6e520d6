"""Health metrics: per agent name and trunk, from call.ended's health block."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from prometheus_client import REGISTRY

from agent.call_health import Answered, measure
from agent.events import CallEnded
from agent.metrics import MetricsHandler
from tests.call_log_support import T0, twilio_call
from tests.test_calls_health import SILENT, SLOW, with_health

LABELS = {"agent": "support-agent", "trunk": "ST_twilio"}


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, LABELS) or 0.0


async def test_health_figures_are_histograms_and_counters_by_agent_and_trunk() -> None:
    names = (
        "sip_agent_agent_join_seconds_count",
        "sip_agent_agent_first_speech_seconds_count",
        "sip_agent_agent_response_seconds_count",
        "sip_agent_silence_seconds_count",
        "sip_agent_agent_missing_calls_total",
        "sip_agent_silent_calls_total",
    )
    before = {name: sample(name) for name in names}
    handler = MetricsHandler()
    for events in (with_health(twilio_call(21), *SLOW), with_health(twilio_call(22), *SILENT)):
        for event in events:
            await handler.handle(event)
    after = {name: sample(name) - before[name] for name in names}
    assert after["sip_agent_agent_join_seconds_count"] == 2
    assert after["sip_agent_agent_first_speech_seconds_count"] == 1  # the silent one never spoke
    assert after["sip_agent_agent_response_seconds_count"] == 1  # one turn, 4 s
    assert after["sip_agent_silence_seconds_count"] >= 2
    assert after["sip_agent_agent_missing_calls_total"] == 1
    assert after["sip_agent_silent_calls_total"] == 1  # SLOW's longest silence is 4 s


async def test_an_answered_call_no_agent_joined_is_not_judged() -> None:
    """30 s answered with no agent: someone else's call (a person, a bridged leg)."""
    labels = {"agent": "", "trunk": "ST_twilio"}
    names = ("sip_agent_silent_calls_total", "sip_agent_agent_missing_calls_total")
    before = [REGISTRY.get_sample_value(name, labels) or 0.0 for name in names]
    events = twilio_call(23)
    ended = events[-1]
    assert isinstance(ended, CallEnded)
    health = measure(
        ended.call.first_seen, [Answered(T0 + timedelta(seconds=4))], T0 + timedelta(seconds=34)
    )
    for event in [*events[:-1], dataclasses.replace(ended, health=health)]:
        await MetricsHandler().handle(event)
    assert health.active_s == 0 and not health.agent_missing and not health.silences
    assert [REGISTRY.get_sample_value(name, labels) or 0.0 for name in names] == before
