"""Events per second through the tracker and the pipeline with 10 handlers, on one core.

    python benchmarks/throughput.py [--calls 2000] [--updates 20] [--observer]

Each call: start (ringing), `updates` attribute changes, a DTMF digit, answer, end. Every
event goes through the pure tracker and then to 10 no-op async handlers via the pipeline
(one consumer task per call). Counted: events delivered (each to all 10 handlers).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from datetime import UTC, datetime

from agent import tracker
from agent.events import CallEvent
from agent.metrics import HandlerObserver
from agent.pipeline import Pipeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Noop:
    def __init__(self, i: int) -> None:
        self.name = f"noop{i}"

    async def handle(self, event: CallEvent) -> None:
        return None

    async def aclose(self) -> None:
        return None


def call_steps(pipeline: Pipeline, call: int, updates: int) -> int:
    """One call's life through the tracker into the pipeline; returns its event count."""
    attrs = {"sip.callID": f"SCL_{call}", "sip.ruleID": "SDR", "sip.callStatus": "ringing"}
    identity = f"sip_{call}"
    state, events = tracker.start(attrs, room="r", identity=identity, participant_sid="PA", now=T0)
    steps = [events]
    for u in range(updates):
        state, events = tracker.update(state, {**attrs, "x-step": str(u)}, now=T0)
        steps.append(events)
    state, events = tracker.dtmf(state, digit="1", code=1, now=T0)
    steps.append(events)
    state, events = tracker.update(state, {**attrs, "sip.callStatus": "active"}, now=T0)
    steps.append(events)
    state, events = tracker.end(state, reason="CLIENT_INITIATED", now=T0)
    steps.append(events)
    for step in steps:
        pipeline.submit(step)
    return sum(len(step) for step in steps)


async def run(calls: int, updates: int, observer: bool) -> tuple[int, float]:
    pipeline = Pipeline(
        [Noop(i) for i in range(10)],
        timeout=5,
        logger=logging.getLogger("bench"),
        observer=HandlerObserver() if observer else None,
    )
    started = time.process_time()
    events = 0
    for call in range(calls):
        events += call_steps(pipeline, call, updates)
        if call % 100 == 99:
            await pipeline.drain()  # keep the backlog realistic: ~100 calls in flight
    await pipeline.drain()
    return events, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--observer", action="store_true", help="with the metrics observer")
    args = parser.parse_args()
    events, cpu = asyncio.run(run(args.calls, args.updates, args.observer))
    print(f"events={events} cpu_s={cpu:.3f} events_per_cpu_s={events / cpu:,.0f}")


if __name__ == "__main__":
    main()
