"""A burst of calls against two real worker processes, one after the other, in one run.

    python benchmarks/burst.py                          # N = 25 50 100 200, then 200 again
    python benchmarks/burst.py --calls 25 50 --repeat 0 --configs agent examples

(A) `agent`: this worker as `python -m agent start` configures it (thread executor, FFI
routing, admission by calls, models not preloaded). (B) `examples`: a worker as LiveKit's
telephony examples configure one (AgentServer defaults: process executor, machine-CPU load at
0.7, one idle process per core, models preloaded), running the same entrypoint and handlers.
See benchmarks/burst_worker.py for how each runs on FakeLiveKit.

The two run one after the other, never side by side: B's admission reads whole-machine CPU,
so on 2 cores a neighbour worker would decide its answers.

Per run: N calls dispatched by AgentEndpoint at `--rate` calls/s, each to its own room; an
AvailabilityResponse with available=False (or none within 10 s, which LiveKit treats the
same) is a refusal, and LiveKit does not retry. Measured on the worker's process tree
(psutil, every 0.5 s): peak RSS summed over the processes, PSS summed once when every call is
up (RSS counts pages that forked processes share once per process), CPU seconds from the
first dispatch to the end of the last job, jobs that reported JS_SUCCESS, and the delay from
dispatch to the job's `call.started` log line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from livekit.protocol import agent as agent_pb
from stats import percentile

from agent.standin import AgentEndpoint, JobRejectedError

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "devkey"
API_SECRET = "bench-secret-0123456789abcdef0123456789"
AGENT_NAME = "burst-bench"
LABELS = {"agent": "A: this worker", "examples": "B: LiveKit examples' config"}
SAMPLE_S = 0.5
DONE = (agent_pb.JobStatus.JS_SUCCESS, agent_pb.JobStatus.JS_FAILED)


@dataclass
class Result:
    config: str
    calls: int
    accepted: int = 0
    refused: int = 0
    unanswered: int = 0
    succeeded: int = 0
    failed: int = 0
    peak_rss_mib: float = 0.0
    plateau_pss_mib: float = 0.0
    processes_peak: int = 0
    cpu_s: float = 0.0
    idle_rss_mib: float = 0.0
    delays_ms: list[float] = field(default_factory=list)
    started_logs: int = 0
    note: str = ""

    def delay(self, q: float) -> float:
        return percentile(self.delays_ms, q)


class TreeSampler:
    """RSS and CPU of a process and all its descendants, including ones that exit meanwhile.

    A job process's CPU is known only while it lives: the last value seen is kept, so up to
    one sampling interval per exited process is missed (stated with the results).
    """

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.cpu: dict[tuple[int, float], float] = {}
        self.peak_rss = 0
        self.peak_procs = 0

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        rss = 0
        procs = self.tree()
        for p in procs:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    rss += p.memory_info().rss
                    self.cpu[(p.pid, p.create_time())] = t.user + t.system
            except psutil.Error:
                continue  # exited between listing and reading
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_procs = max(self.peak_procs, len(procs))

    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def pss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_full_info().pss
        return total


def _started_delays(log: Path, dispatched: dict[str, float]) -> list[float]:
    """ms from dispatch to each room's `call.started` line (the log handler's timestamp)."""
    delays = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{") or '"call.started"' not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            rec = json.loads(line)
            if rec.get("event") == "call.started" and rec.get("room") in dispatched:
                ts = datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
                delays.append(1000 * (ts - dispatched[rec["room"]]))
    return delays


def _stop(proc: subprocess.Popen[bytes], sampler: TreeSampler) -> None:
    """SIGTERM (the worker drains, its jobs are over by now), then SIGKILL whatever is left.

    Only this worker's processes: its descendants as last seen plus its own session (it was
    started in a new one, which the forkserver and job processes inherit).
    """
    known = sampler.tree()
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    for p in known:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


async def run_one(config: str, calls: int, rate: float, tag: str, workdir: Path) -> Result:
    result = Result(config=config, calls=calls)
    hold = calls / rate + 5  # every call still up when the last one arrives
    rooms = [f"burst-{tag}-{i}" for i in range(calls)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as ep:
        env |= {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]),
            "LIVEKIT_URL": ep.url,
            "LIVEKIT_API_KEY": API_KEY,
            "LIVEKIT_API_SECRET": API_SECRET,
            "SIP_AGENT_NAME": AGENT_NAME,
            "SIP_AGENT_HEALTH_PORT": "0",
            "SIP_AGENT_LOG_FORMAT": "json",
            "SIP_AGENT_DB_URL": f"sqlite:///{workdir / 'unused.db'}",
            "BURST_ACTIVE_AFTER_S": "1",
            "BURST_HOLD_S": str(hold),
        }
        log_path = workdir / f"{tag}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "benchmarks" / "burst_worker.py"), config],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sampler = TreeSampler(psutil.Process(proc.pid))
        try:
            await ep.wait_for_worker(AGENT_NAME, timeout=90)
            # Let idle processes start and the load average settle, as a worker that has been
            # up for a while would be when a burst arrives.
            await asyncio.sleep(8)
            sampler.sample()
            result.idle_rss_mib = sampler.peak_rss / 2**20
            cpu0 = sampler.cpu_total()

            dispatched: dict[str, float] = {}
            job_ids: list[str] = []

            async def dispatch(room: str) -> None:
                dispatched[room] = time.time()
                try:
                    job = await ep.dispatch(AGENT_NAME, room, timeout=10)
                except JobRejectedError:
                    result.refused += 1
                    dispatched.pop(room)
                except TimeoutError:
                    result.unanswered += 1
                    dispatched.pop(room)
                else:
                    result.accepted += 1
                    job_ids.append(job.id)

            async def sample_forever() -> None:
                while True:
                    await asyncio.to_thread(sampler.sample)
                    await asyncio.sleep(SAMPLE_S)

            sampling = asyncio.create_task(sample_forever())
            t0 = time.monotonic()
            tasks = []
            for i, room in enumerate(rooms):
                tasks.append(asyncio.create_task(dispatch(room)))
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
            await asyncio.gather(*tasks)
            # Every accepted call is up now (the first hangs up at hold + 1 s after connecting).
            await asyncio.sleep(2)
            result.plateau_pss_mib = await asyncio.to_thread(sampler.pss) / 2**20

            def finished() -> int:
                return sum(any(u.status in DONE for u in ep.job_updates(j)) for j in job_ids)

            deadline = time.monotonic() + hold + 60
            while finished() < len(job_ids) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            if finished() < len(job_ids):
                result.note = f"{len(job_ids) - finished()} jobs unfinished at the deadline"
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            sampler.sample()
            result.cpu_s = sampler.cpu_total() - cpu0
            for j in job_ids:
                statuses = {u.status for u in ep.job_updates(j)}
                result.succeeded += agent_pb.JobStatus.JS_SUCCESS in statuses
                result.failed += agent_pb.JobStatus.JS_FAILED in statuses
            result.peak_rss_mib = sampler.peak_rss / 2**20
            result.processes_peak = sampler.peak_procs
        except Exception as exc:
            result.note = f"{type(exc).__name__}: {exc}"
        finally:
            await asyncio.to_thread(_stop, proc, sampler)
    result.delays_ms = _started_delays(log_path, dispatched)
    result.started_logs = len(result.delays_ms)
    return result


def _row(r: Result) -> str:
    return (
        f"| {r.calls} | {LABELS[r.config]} | {r.accepted} / {r.refused + r.unanswered}"
        f"{f' ({r.unanswered} unanswered)' if r.unanswered else ''} | {r.succeeded} "
        f"| {r.started_logs} | {r.delay(0.5):.0f} / {r.delay(0.99):.0f} "
        f"| {r.idle_rss_mib:.0f} | {r.peak_rss_mib:.0f} | {r.plateau_pss_mib:.0f} "
        f"| {r.processes_peak} | {r.cpu_s:.1f} |{f' {r.note}' if r.note else ''}"
    )


HEADER = (
    "| N | worker | accepted / refused | JS_SUCCESS | call.started logged "
    "| dispatch -> call.started p50 / p99 ms | idle RSS MiB | peak RSS MiB "
    "| PSS with all calls up MiB | processes (peak) | CPU s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _ratio(b: float, a: float) -> str:
    return f"{b / a:.1f}x" if a else "n/a"


def _ratios(a: Result, b: Result) -> str:
    served_a = a.succeeded / a.calls
    served_b = b.succeeded / b.calls
    # Per served call only when both served some: a stalled worker has no per-call cost.
    per_call = "n/a"
    if a.succeeded and b.succeeded:
        per_call = _ratio(b.cpu_s / b.succeeded, a.cpu_s / a.succeeded)
    return (
        f"| {a.calls} | {served_b:.0%} / {served_a:.0%} "
        f"| {_ratio(b.peak_rss_mib, a.peak_rss_mib)} "
        f"| {_ratio(b.plateau_pss_mib, a.plateau_pss_mib)} "
        f"| {_ratio(b.cpu_s, a.cpu_s)} "
        f"| {per_call} |"
    )


RATIO_HEADER = (
    "| N | calls served B / A | peak RSS B/A | PSS B/A | CPU s B/A | CPU s per served call B/A |\n"
    "|---|---|---|---|---|---|"
)


async def main_async(args: argparse.Namespace) -> None:
    plan = [*args.calls, *([args.calls[-1]] * args.repeat)]
    results: list[tuple[Result, Result]] = []
    with tempfile.TemporaryDirectory(prefix="burst-") as tmp:
        workdir = Path(tmp)
        for k, calls in enumerate(plan):
            pair = []
            for config in args.configs:
                tag = f"{k}-{config}-{calls}"
                r = await run_one(config, calls, args.rate, tag, workdir)
                print(_row(r), flush=True)
                pair.append(r)
            if len(pair) == 2:
                results.append((pair[0], pair[1]))
        if args.keep_logs:
            for log in workdir.glob("*.log"):
                (Path(args.keep_logs) / log.name).write_bytes(log.read_bytes())
    print()
    print(HEADER)
    for a, b in results:
        print(_row(a))
        print(_row(b))
    print()
    print(RATIO_HEADER)
    for a, b in results:
        print(_ratios(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--repeat", type=int, default=1, help="runs more of the last N")
    parser.add_argument("--rate", type=float, default=10.0, help="calls dispatched per second")
    parser.add_argument("--configs", nargs="+", default=["agent", "examples"])
    parser.add_argument("--keep-logs", default="", help="copy the workers' logs to this dir")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
