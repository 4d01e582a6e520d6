"""Prometheus metrics: calls, events, handlers and the webhook outbox.

All metrics live in prometheus-client's default registry, which livekit-agents serves on
`/metrics` from the worker process (`SIP_AGENT_METRICS_PORT`). Under the thread executor
every job runs in that process. Under the process executor each job process writes its
values to files in the worker's multiprocess directory and the worker sums them at scrape
time: that is why the gauges declare a `multiprocess_mode`.

The webhook outbox reports through the functions at the bottom (`outbox_depth`,
`dead_letters`, `delivery_failed`, `delivery_succeeded`): plain in-memory updates, cheap
whether or not anything scrapes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .call_health import CallHealth
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
# Agents join and answer in seconds; silences run longer.
AGENT_BUCKETS = (0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 10, 15, 20, 30, 60)
SILENCE_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 60, 120, 300)
HEALTH_LABELS = ["agent", "trunk"]
"""The agent's `lk.agent.name` ("" when it sets none or none came) and the SIP trunk."""
AGENT_JOIN_SECONDS = Histogram(
    "sip_agent_agent_join_seconds",
    "From first sight of the call to the first agent participant in its room.",
    HEALTH_LABELS,
    buckets=AGENT_BUCKETS,
)
AGENT_FIRST_SPEECH_SECONDS = Histogram(
    "sip_agent_agent_first_speech_seconds",
    "From the answer to the agent's first `speaking` (0 when it spoke first).",
    HEALTH_LABELS,
    buckets=AGENT_BUCKETS,
)
AGENT_RESPONSE_SECONDS = Histogram(
    "sip_agent_agent_response_seconds",
    "Per turn: the caller's turn over to the agent speaking.",
    HEALTH_LABELS,
    buckets=AGENT_BUCKETS,
)
SILENCE_SECONDS = Histogram(
    "sip_agent_silence_seconds",
    "Stretches of 1 s or longer in which nobody was known to speak, answered calls.",
    HEALTH_LABELS,
    buckets=SILENCE_BUCKETS,
)
AGENT_MISSING = Counter(
    "sip_agent_agent_missing_calls",
    "Calls in which no agent spoke within SIP_AGENT_AGENT_TIMEOUT_S of the answer.",
    HEALTH_LABELS,
)
SILENT_CALLS = Counter(
    "sip_agent_silent_calls",
    "Calls with a silence of SIP_AGENT_SILENCE_S or longer.",
    HEALTH_LABELS,
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
DEAD_LETTERS = Gauge(
    "sip_agent_webhook_dead_letters",
    "Webhook deliveries refused for good or past their retry budget, kept for an operator.",
    multiprocess_mode="livemax",
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
            if event.health is not None:
                observe_health(event.health, trunk)

    async def aclose(self) -> None:
        return None


def observe_health(health: CallHealth, trunk: str) -> None:
    """A call's health figures, once, at its end."""
    labels = (health.agent_name or "", trunk)
    if health.agent_join_s is not None:
        AGENT_JOIN_SECONDS.labels(*labels).observe(health.agent_join_s)
    if health.agent_first_speech_after_answer_s is not None:
        first = max(0.0, health.agent_first_speech_after_answer_s)
        AGENT_FIRST_SPEECH_SECONDS.labels(*labels).observe(first)
    if health.responses_s:
        responses = AGENT_RESPONSE_SECONDS.labels(*labels)
        for seconds in health.responses_s:
            responses.observe(seconds)
    if health.silences:
        silences = SILENCE_SECONDS.labels(*labels)
        for silence in health.silences:
            silences.observe(silence.length_s)
    if health.agent_missing:
        AGENT_MISSING.labels(*labels).inc()
    if health.long_silences:
        SILENT_CALLS.labels(*labels).inc()


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


def dead_letters(count: int) -> None:
    """The webhook outbox keeps `count` dead letters (`python -m agent webhooks list`)."""
    DEAD_LETTERS.set(count)


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
