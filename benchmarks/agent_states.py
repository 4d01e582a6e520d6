"""CPU and memory per call while voice agents change `lk.agent.state` every few seconds.

    python benchmarks/agent_states.py --calls 100 --seconds 20 --period 3

N jobs run the real entrypoint in this process on the SDK-level stand-in, each room with one
answered SIP call and one agent participant (kind AGENT, `lk.agent.name`, an audio track
where the stand-in can publish one). Every agent then steps through listening -> thinking ->
speaking -> listening, one change every `period` seconds (staggered across rooms): the load
call health adds. Run it against an older tree with `PYTHONPATH=<tree>` for a baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import time

import psutil

import agent
from agent.assembly import worker_config
from agent.entrypoint import entrypoint
from agent.events import CallEvent
from agent.settings import load_settings
from agent.standin import FakeLiveKit, run_job

CYCLE = ("listening", "thinking", "speaking")
received: dict[str, int] = {}


async def count(event: CallEvent) -> None:
    received[event.type] = received.get(event.type, 0) + 1


async def run(calls: int, seconds: float, period: float) -> dict[str, float]:
    settings = load_settings(handlers="metrics", log_format="json", metrics_port=0)
    config = worker_config(settings, [count])
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    with FakeLiveKit() as livekit:
        jobs = []
        for i in range(calls):
            job = await run_job(livekit, functools.partial(entrypoint, config=config), room=f"r{i}")
            job.room.join(f"sip_{i}", attributes={"sip.callID": f"SCL_{i}", "sip.ruleID": "R"})
            job.room.join(
                f"agent_{i}",
                kind="AGENT",
                attributes={"lk.agent.name": "bench-agent", "lk.agent.state": "initializing"},
            )
            if hasattr(job.room, "publish"):
                job.room.publish(f"agent_{i}", "audio")
            job.room.set_attributes(f"sip_{i}", {"sip.callStatus": "active"})
            jobs.append(job)
            await asyncio.sleep(0.05)
        await asyncio.gather(*(j.connected(30) for j in jobs))
        await asyncio.sleep(1)
        gc.collect()
        rss = proc.memory_info().rss
        cpu0, t0 = time.process_time(), time.perf_counter()
        interval = period / calls
        changes = 0
        while time.perf_counter() < t0 + seconds:
            i = changes % calls
            state = CYCLE[(changes // calls) % len(CYCLE)]
            jobs[i].room.set_attributes(f"agent_{i}", {"lk.agent.state": state})
            changes += 1
            if (delay := t0 + changes * interval - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
        await asyncio.sleep(1)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        for i, job in enumerate(jobs):
            job.room.leave(f"sip_{i}")
        await asyncio.gather(*(j.wait(30) for j in jobs), return_exceptions=True)
    return {
        "calls": calls,
        "state_changes": changes,
        "cpu_share": cpu / wall,
        "cpu_ms_per_call_s": 1000 * cpu / wall / calls,
        "cpu_us_per_change": 1e6 * cpu / max(1, changes),
        "rss_kib_per_call": (rss - rss0) / calls / 1024,
        "ended": received.get("call.ended", 0),
        "health_events": sum(v for k, v in received.items() if k.startswith("call.agent")),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--period", type=float, default=3.0, help="seconds between changes")
    args = parser.parse_args()
    result = asyncio.run(run(args.calls, args.seconds, args.period))
    tree = os.path.dirname(os.path.dirname(agent.__file__))
    print(
        " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()),
        f"tree={tree}",
    )


if __name__ == "__main__":
    main()
