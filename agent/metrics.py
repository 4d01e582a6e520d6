"""Prometheus metrics: calls, events, handlers and the webhook outbox.

All metrics live in prometheus-client's default registry, which livekit-agents serves on
`/metrics` from the worker process (`SIP_AGENT_METRICS_PORT`). Under the thread executor
every job runs in that process. Under the process executor each job process writes its
values to files in the worker's multiprocess directory and the worker sums them at scrape
time: that is why the gauges declare a `multiprocess_mode`.

The webhook outbox reports through the functions at the bottom (`outbox_depth`,
`delivery_failed`, `delivery_succeeded`): plain in-memory updates, cheap whether or not
anything scrapes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .events import CallEvent
from .outcome import Outcome
from .settings import Settings

# Ringing lasts seconds, talk lasts minutes: one bucket scale each.
RINGING_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180)
TALK_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
# Handlers are expected in the millisecond range; the top buckets catch timeouts.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

CALLS_ACTIVE = Gauge(
    "sip_agent_calls_active",
    "Calls started and not yet ended.",
    multiprocess_mode="livesum",
)
CALLS_STARTED = Counter(
    "sip_agent_calls_started",
    "Calls seen starting.",
    ["direction", "trunk"],
)
CALLS_ENDED = Counter(
    "sip_agent_calls_ended",
    "Calls ended, by outcome (completed, busy, no-answer, canceled, failed).",
    ["direction", "outcome", "trunk"],
)
RINGING_SECONDS = Histogram(
    "sip_agent_call_ringing_seconds",
    "From first sight of the call to its answer, or to its end when never answered.",
    ["direction"],
    buckets=RINGING_BUCKETS,
)
TALK_SECONDS = Histogram(
    "sip_agent_call_talk_seconds",
    "From answer to end, answered calls only.",
    ["direction"],
    buckets=TALK_BUCKETS,
)
EVENTS = Counter("sip_agent_events", "Call events delivered to handlers.", ["type"])
HANDLER_SECONDS = Histogram(
    "sip_agent_handler_seconds",
    "Time one handler took on one event.",
    ["handler"],
    buckets=LATENCY_BUCKETS,
)
HANDLER_ERRORS = Counter(
    "sip_agent_handler_errors",
    "Handler calls that raised or timed out.",
    ["handler"],
)
OUTBOX_DEPTH = Gauge(
    "sip_agent_webhook_outbox_depth",
    "Webhook deliveries waiting in the outbox.",
    multiprocess_mode="livesum",
)
DELIVERY_FAILURES = Counter(
    "sip_agent_webhook_delivery_failures",
    "Webhook delivery attempts that failed, by reason (e.g. http_5xx, timeout, network).",
    ["reason"],
)
DELIVERIES = Counter("sip_agent_webhook_deliveries", "Webhook deliveries acknowledged (2xx).")


class HandlerObserver:
    """The pipeline's observer: latency and errors per handler."""

    def __init__(self) -> None:
        # `labels()` costs more than `observe()`: look each handler's series up once.
        self._latency: dict[str, Histogram] = {}

    def handled(self, handler: str, event_type: str, seconds: float, failed: bool) -> None:
        latency = self._latency.get(handler)
        if latency is None:
            latency = self._latency[handler] = HANDLER_SECONDS.labels(handler)
        latency.observe(seconds)
        if failed:
            HANDLER_ERRORS.labels(handler).inc()


class MetricsHandler:
    """The `metrics` handler: counts calls and events as they happen."""

    name = "metrics"

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsHandler:
        del settings
        return cls()

    async def handle(self, event: CallEvent) -> None:
        EVENTS.labels(event.type).inc()
        call = event.call
        direction = call.direction.value
        trunk = call.trunk_id or ""
        if event.type == "call.started":
            CALLS_ACTIVE.inc()
            CALLS_STARTED.labels(direction, trunk).inc()
        elif event.type == "call.ended":
            CALLS_ACTIVE.dec()
            CALLS_ENDED.labels(direction, event.outcome.value, trunk).inc()
            RINGING_SECONDS.labels(direction).observe(event.ringing_s)
            # `completed` is exactly "was answered" (see agent/outcome.py).
            if event.outcome is Outcome.COMPLETED:
                TALK_SECONDS.labels(direction).observe(event.talk_s)

    async def aclose(self) -> None:
        return None


SPOOLED = Gauge(
    "sip_agent_spooled",
    "Writes kept in the local spool while the database cannot take them.",
    ["part"],
)
SPOOL_REFUSED = Counter(
    "sip_agent_spool_refused",
    "Writes refused because the local spool was full (SIP_AGENT_SPOOL_MAX).",
    ["part"],
)


def spooled(part: str, count: int) -> None:
    """`part`'s local spool holds `count` writes waiting for the database."""
    SPOOLED.labels(part).set(count)


def spool_refused(part: str, count: int) -> None:
    SPOOL_REFUSED.labels(part).inc(count)


def outbox_depth(depth: int) -> None:
    """The webhook outbox holds `depth` undelivered events (call after each change)."""
    OUTBOX_DEPTH.set(depth)


def delivery_failed(reason: str) -> None:
    """One delivery attempt failed; `reason` is a small fixed set (http_5xx, timeout...)."""
    DELIVERY_FAILURES.labels(reason).inc()


def delivery_succeeded() -> None:
    """One delivery was acknowledged by the endpoint."""
    DELIVERIES.inc()


def enabled(settings: Settings) -> bool:
    """Metrics are on when they have a port to be served on."""
    return settings.metrics_port is not None


def pipeline_observer(settings: Settings) -> HandlerObserver | None:
    return HandlerObserver() if enabled(settings) else None
