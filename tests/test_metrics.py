"""Prometheus metrics after scripted calls through the real entrypoint on the LiveKit stand-in."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from agent import metrics
from agent.assembly import worker_config
from agent.entrypoint import entrypoint
from agent.events import CallEvent
from agent.handlers import FunctionHandler
from agent.settings import Settings, load_settings
from agent.standin import FakeLiveKit, run_job

INBOUND = {"sip.callID": "SCL_in", "sip.ruleID": "SDR_1", "sip.trunkID": "ST_in"}


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit() as fake:
        yield fake


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def settings_with_metrics(**overrides: object) -> Settings:
    return load_settings(metrics_port=0, log_format="json", hangup_grace_s=0.05, **overrides)


async def run_call(livekit: FakeLiveKit, settings: Settings, room: str, handlers=()) -> None:
    config = worker_config(settings, handlers)
    job = await run_job(livekit, functools.partial(entrypoint, config=config), room=room)
    await job.connected(5)
    fake = job.room
    fake.join("sip_caller", attributes={**INBOUND, "sip.callStatus": "ringing"})
    await fake.settle()
    fake.set_attributes("sip_caller", {"sip.callStatus": "active"})
    fake.dtmf("sip_caller", "5")
    fake.leave("sip_caller", "CLIENT_INITIATED")
    await job.wait()


async def test_a_completed_inbound_call_is_counted(livekit: FakeLiveKit) -> None:
    """One answered inbound call moves the call, event, ringing and talk metrics."""
    trunk = {"direction": "inbound", "trunk": "ST_in"}
    started = sample("sip_agent_calls_started_total", **trunk)
    ended = sample("sip_agent_calls_ended_total", outcome="completed", **trunk)
    dtmf = sample("sip_agent_events_total", type="call.dtmf")
    talks = sample("sip_agent_call_talk_seconds_count", direction="inbound")
    active = sample("sip_agent_calls_active")

    await run_call(livekit, settings_with_metrics(), "metrics-room")

    assert sample("sip_agent_calls_started_total", **trunk) == started + 1
    assert sample("sip_agent_calls_ended_total", outcome="completed", **trunk) == ended + 1
    assert sample("sip_agent_events_total", type="call.dtmf") == dtmf + 1
    assert sample("sip_agent_call_talk_seconds_count", direction="inbound") == talks + 1
    assert sample("sip_agent_calls_active") == active


async def test_handler_latency_and_errors_are_per_handler(livekit: FakeLiveKit) -> None:
    """Every handler call is timed; one that raises is counted as an error of that handler."""

    async def broken(event: CallEvent) -> None:
        raise RuntimeError("crm down")

    handler = FunctionHandler(broken, name="crm")
    calls = sample("sip_agent_handler_seconds_count", handler="crm")
    errors = sample("sip_agent_handler_errors_total", handler="crm")
    log_calls = sample("sip_agent_handler_seconds_count", handler="log")

    await run_call(livekit, settings_with_metrics(), "latency-room", handlers=[handler])

    # started, status_changed, answered, dtmf, ended
    assert sample("sip_agent_handler_seconds_count", handler="crm") == calls + 5
    assert sample("sip_agent_handler_errors_total", handler="crm") == errors + 5
    assert sample("sip_agent_handler_seconds_count", handler="log") == log_calls + 5


def test_outbox_functions_move_their_metrics() -> None:
    """The webhook outbox reports its depth, failures by reason, and deliveries."""
    failures = sample("sip_agent_webhook_delivery_failures_total", reason="http_5xx")
    delivered = sample("sip_agent_webhook_deliveries_total")
    metrics.outbox_depth(7)
    metrics.delivery_failed("http_5xx")
    metrics.delivery_succeeded()
    assert sample("sip_agent_webhook_outbox_depth") == 7
    assert sample("sip_agent_webhook_delivery_failures_total", reason="http_5xx") == failures + 1
    assert sample("sip_agent_webhook_deliveries_total") == delivered + 1
