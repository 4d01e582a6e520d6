"""Latency from an event entering the SDK to the handler, and CPU/memory per call, at N calls.

    python benchmarks/ffi_latency.py --calls 200 [--fanout] [--seconds 10] [--rate 1]

N jobs run the real entrypoint (real JobContext, real rtc.Room) in this process, one SIP
call each, on the SDK-level LiveKit stand-in: every event is serialised and injected through
the SDK's C callback, so it takes the SDK's real FfiQueue -> room listen task path. Each call
then gets `rate` attribute changes per second carrying the injection time; a handler takes
the difference when it receives the `call.updated`. `--fanout` leaves the SDK's default
delivery (every event to every room) instead of routing each room's events to it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import resource
import statistics
import time

import psutil

from agent import ffi_routing
from agent.assembly import worker_config
from agent.entrypoint import entrypoint
from agent.events import CallEvent
from agent.settings import load_settings
from agent.standin import FakeLiveKit, run_job

STAMP = "x-bench-t"
latencies: list[float] = []


async def record(event: CallEvent) -> None:
    if event.type == "call.updated":
        stamp = event.changed.get(STAMP) or event.added.get(STAMP)
        if stamp is not None:
            latencies.append(time.perf_counter() - float(stamp))


async def run(calls: int, seconds: float, rate: float, fanout: bool) -> dict[str, float]:
    if fanout:
        ffi_routing.route = lambda room: None  # the SDK's own delivery
    settings = load_settings(handlers="metrics", log_format="json", metrics_port=0)
    config = worker_config(settings, [record])
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    with FakeLiveKit() as livekit:
        jobs = []
        for i in range(calls):
            job = await run_job(livekit, functools.partial(entrypoint, config=config), room=f"r{i}")
            job.room.join(
                f"sip_{i}",
                attributes={
                    "sip.callID": f"SCL_{i}",
                    "sip.ruleID": "R",
                    "sip.callStatus": "active",
                },
            )
            jobs.append(job)
            await asyncio.sleep(0.1 / max(1, calls // 200))  # arrivals at ~10 calls/s per 200
        await asyncio.gather(*(j.connected(30) for j in jobs))
        await asyncio.sleep(1)
        gc.collect()
        rss = proc.memory_info().rss
        latencies.clear()
        cpu0, t0 = time.process_time(), time.perf_counter()
        interval = 1 / (rate * calls)
        sent = 0
        end = t0 + seconds
        while time.perf_counter() < end:
            for i, job in enumerate(jobs):
                job.room.set_attributes(f"sip_{i}", {STAMP: repr(time.perf_counter())})
                sent += 1
                target = t0 + sent * interval
                if (delay := target - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                elif sent % 20 == 0:
                    await asyncio.sleep(0)
        await asyncio.sleep(2)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        for i, job in enumerate(jobs):
            job.room.leave(f"sip_{i}")
        await asyncio.gather(*(j.wait(30) for j in jobs), return_exceptions=True)
    lat = sorted(latencies)
    return {
        "calls": calls,
        "sent": sent,
        "received": len(lat),
        "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1] if lat else float("nan"),
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
        "cpu_share": cpu / wall,
        "cpu_ms_per_event": 1000 * cpu / max(1, sent),
        "rss_mib_per_call": (rss - rss0) / calls / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=1.0, help="events per call per second")
    parser.add_argument("--fanout", action="store_true", help="SDK default delivery")
    args = parser.parse_args()
    result = asyncio.run(run(args.calls, args.seconds, args.rate, args.fanout))
    mode = "fanout" if args.fanout else "routed"
    print(
        mode,
        " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()),
        f"pid={os.getpid()}",
    )


if __name__ == "__main__":
    main()
