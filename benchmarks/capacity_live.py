"""Capacity against the real livekit-server: workers side by side, one burst of SIP callers.

    python benchmarks/capacity_live.py --small                 # 20 calls per worker, < 1 min
    python benchmarks/capacity_live.py --calls 100             # 100 calls per worker
    python benchmarks/capacity_live.py --calls 200 --workers agent

Starts Redis and livekit-server on free loopback ports (tests/live/stack.py, the live tier's
code; binaries on PATH, e.g. `PATH="$HOME/go/bin:$PATH"`), then, side by side in the run:
- `agent`: this worker as users run it, `python -m agent start` (handlers: `log`);
- `agent-no-stun`: the same with `SIP_AGENT_ICE_SERVERS=none` (agent/ice.py);
- `examples`: a worker as LiveKit's telephony examples configure one (`AgentServer()`
  defaults: process executor, machine-CPU load at 0.7, one idle process per core, models
  preloaded; benchmarks/burst_worker.py `examples-live`), same entrypoint and handlers;
and sends each of them `--calls` emulated SIP callers (benchmarks/sip_callers_go, LiveKit's Go
SDK, built with `go build`; `--callers python`: benchmarks/sip_callers.py) at `--rate`
calls/s, each in its own room, dispatched to the worker by explicit dispatch (`--dispatch
room`, the default: the agent in the room's configuration, as LiveKit's SIP service creates
a call's room from a dispatch rule; `api`: `CreateDispatch` once the caller is in). Every call is
held until every call is up (by the callers' own clocks) plus 3 s plus `--idle-s` seconds,
so all of them sit idle together for a while; then each caller writes `hangup` and leaves.

Per worker: calls served (a `call.started` and one `call.ended` logged for the room), agent
join p50 / p99 (from the dispatch: the caller's connect that creates the room, or the
`CreateDispatch` request; to the job's `call.started` log line), CPU of the
worker's process tree with no call and while every call sits idle (cores; per call: the
difference shared by the calls), USS of the tree (before the calls,
with every call up, and per call), threads of the tree (mean / peak while calls run), and the
top threads by CPU in the idle window (by thread name, from /proc/<pid>/task/*/stat).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from stats import percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live.records import where  # noqa: E402
from tests.live.stack import (  # noqa: E402
    HOST,
    clean_env,
    free_port,
    start_livekit,
    start_redis,
)
from tests.live.webhooks import receive_webhooks  # noqa: E402
from tests.live.worker import Worker as LiveWorker  # noqa: E402

SAMPLE_S = 0.5
BASE_S = 10.0
"""How long each worker's CPU with no call is measured."""
SETTLE_S = 3.0
"""After the last join: what the join set going (ICE, the data channel) settles."""
JOINED_STILL_S = 3.0
"""A worker whose `call.started` count stayed the same this long has joined all it will."""
ACTIVE_S = 1.0
"""A caller goes `active` this long after it is up (sip_callers*)."""
REGISTER_TIMEOUT_S = 90.0
# livekit-server 1.13.5 refreshes its list of registered agents (CheckEnabled, a psrpc call to
# every node that waits out its 5 s timeout) at the first dispatch after a worker registers
# and then every minute; each dispatch in those 5 s holds one of the 50 workers of its
# dispatch pool until the refresh ends, so a 10/s burst inside them stalls every dispatch for
# ~3 s (measured, docs/REAL-LIVEKIT.md). One warm-up call per worker takes the refresh, and
# the burst starts once it is over (`--no-warm-up` shows the stall).
CHECK_ENABLED_S = 5.0
UP_TIMEOUT_S = 60.0
"""How late, after its planned time, the last call may come up."""
COMMANDS = {
    "agent": [sys.executable, "-m", "agent", "start"],
    "agent-no-stun": [sys.executable, "-m", "agent", "start"],
    "examples": [sys.executable, str(ROOT / "benchmarks" / "burst_worker.py"), "examples-live"],
}
LABELS = {
    "agent": "this worker (`python -m agent start`)",
    "agent-no-stun": "this worker, `SIP_AGENT_ICE_SERVERS=none`",
    "examples": "LiveKit examples' config",
}
SETTINGS = {"agent-no-stun": {"SIP_AGENT_ICE_SERVERS": "none"}}
"""Settings of a configuration beyond the ones every worker here gets (worker_env)."""


def _ticks() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def thread_cpu(pids: list[int]) -> Counter[str]:
    """CPU seconds so far of every thread of these processes, summed by thread name."""
    per_name: Counter[str] = Counter()
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (task / "stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                per_name[name] += (int(fields[11]) + int(fields[12])) / _ticks()
    return per_name


@dataclass
class Sampler:
    """CPU, USS and threads of one worker's process tree, sampled in a thread."""

    root: psutil.Process
    cpu: dict[tuple[int, float], float] = field(default_factory=dict)
    threads: list[tuple[float, int]] = field(default_factory=list)

    def tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.root, *self.root.children(recursive=True)]
        return []

    def sample(self) -> None:
        count = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error), p.oneshot():
                t = p.cpu_times()
                self.cpu[(p.pid, p.create_time())] = t.user + t.system
                count += p.num_threads()
        self.threads.append((time.monotonic(), count))

    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def uss(self) -> float:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_full_info().uss
        return total / 2**20

    def pids(self) -> list[int]:
        return [p.pid for p in self.tree()]


@dataclass
class Result:
    config: str
    calls: int
    dispatched: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    joins_ms: list[float] = field(default_factory=list)
    started: int = 0
    ended_once: int = 0
    ended_twice: int = 0
    idle_cores: float = 0.0
    base_cores: float = 0.0
    uss_before: float = 0.0
    uss_idle: float = 0.0
    threads_before: int = 0
    threads_mean: float = 0.0
    threads_peak: int = 0
    top_threads: list[tuple[str, float]] = field(default_factory=list)

    def join(self, q: float) -> float:
        return percentile(self.joins_ms, q)

    def row(self) -> str:
        up = self.started  # per call the worker really carried
        per_call_cpu = f"{100 * (self.idle_cores - self.base_cores) / up:.3f}%" if up else "-"
        per_call_uss = f"{(self.uss_idle - self.uss_before) / up:.2f} MiB" if up else "-"
        return (
            f"| {LABELS[self.config]} | {self.calls} | {self.started} started, {self.ended_once} "
            f"ended once{f', {self.ended_twice} twice' if self.ended_twice else ''} "
            f"| {self.join(0.5) / 1000:.2f} s / {self.join(0.99) / 1000:.2f} s "
            f"| {self.base_cores:.3f} -> {self.idle_cores:.3f} ({per_call_cpu} of a core per call) "
            f"| {self.uss_idle:.0f} MiB ({per_call_uss} per call) "
            f"| {self.threads_before} before, {self.threads_mean:.0f} / {self.threads_peak} |"
        )


HEADER = (
    "| worker | calls | served | agent join p50 / p99 | CPU: no call -> all calls idle (cores) "
    "| USS, all calls up | threads (mean / peak) |\n|---|---|---|---|---|---|---|"
)


class Worker:
    """One worker process, its JSON log lines kept as they come (the live tier's reader)."""

    def __init__(self, config: str, env: dict[str, str], workdir: Path) -> None:
        self.config = config
        self.name = env["SIP_AGENT_NAME"]
        proc = subprocess.Popen(
            COMMANDS[config],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.process = LiveWorker(proc, workdir / f"{config}.log", None)
        self.proc = proc
        self.sampler = Sampler(psutil.Process(proc.pid))

    def registered(self) -> bool:
        found = self.process.records.all(where(message="registered worker", agent_name=self.name))
        return bool(found)

    def events(self, event: str) -> list[dict[str, Any]]:
        return self.process.records.all(where(event=event))

    def stop(self) -> None:
        self.process.stop()


def _timestamp(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00")).timestamp()


def worker_env(base: dict[str, str], config: str, calls: int) -> dict[str, str]:
    return base | {
        "SIP_AGENT_NAME": f"bench-{config}",
        "SIP_AGENT_LOG_FORMAT": "json",
        "SIP_AGENT_HANDLERS": "log",
        "SIP_AGENT_HEALTH_PORT": str(free_port()),
        # Room for every call (the worker checks its open-file limit against it at start).
        "SIP_AGENT_MAX_CALLS": str(calls),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]),
        **SETTINGS.get(config, {}),
    }


def _collect(proc: subprocess.Popen[bytes], into: list[dict[str, Any]]) -> None:
    """A caller process's JSON lines, as they come."""
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append(json.loads(line))


def cpu_of(groups: dict[str, list[Sampler]]) -> dict[str, float]:
    """CPU seconds so far of each group of process trees."""
    for samplers in groups.values():
        for sampler in samplers:
            sampler.sample()
    return {name: sum(s.cpu_total() for s in samplers) for name, samplers in groups.items()}


def build_go_callers(workdir: Path) -> Path:
    """benchmarks/sip_callers_go built with `go build` (modules through the Go proxy)."""
    binary = workdir / "sip_callers_go"
    source = ROOT / "benchmarks" / "sip_callers_go"
    try:
        subprocess.run(["go", "build", "-o", str(binary), "."], cwd=source, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            f"capacity_live: cannot build the Go callers ({exc}); --callers python"
        ) from exc
    return binary


def start_callers(
    stack_env: dict[str, str],
    plan: list[list[Any]],
    hold: float,
    processes: int,
    workers: int,
    program: list[str],
    dispatch: str,
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for k in range(processes):
        # Call i of every worker to process i % processes: each process carries every worker.
        mine = [call for i, call in enumerate(plan) if (i // workers) % processes == k]
        spec = {"calls": mine, "hold_s": hold, "first": k * len(plan), "dispatch": dispatch}
        argv = [*program, stack_env["LIVEKIT_URL"], stack_env["LIVEKIT_API_KEY"]]
        argv += [stack_env["LIVEKIT_API_SECRET"], json.dumps(spec)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE))
    return procs


def measure(args: argparse.Namespace) -> list[Result]:
    key, secret = "bench-key", secrets.token_hex(24)
    redis_port, http_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="capacity-live-"))
    with contextlib.ExitStack() as stack:
        events = stack.enter_context(receive_webhooks(key, secret))
        redis = start_redis(workdir, redis_port)
        stack.callback(redis.stop)
        livekit = start_livekit(
            workdir, http_port, redis_port, key, secret, events.url, udp_mux=True
        )
        stack.callback(livekit.stop)
        lk_env = {
            "LIVEKIT_URL": f"ws://{HOST}:{http_port}",
            "LIVEKIT_API_KEY": key,
            "LIVEKIT_API_SECRET": secret,
        }
        base = clean_env() | lk_env
        workers = [Worker(c, worker_env(base, c, args.calls), workdir) for c in args.workers]
        for w in workers:
            stack.callback(w.stop)
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while not all(w.registered() for w in workers):
            if time.monotonic() > deadline or any(w.proc.poll() is not None for w in workers):
                raise RuntimeError(f"a worker did not register; logs in {workdir}")
            time.sleep(0.2)
        time.sleep(args.warmup_s)  # idle processes up, start-up CPU over
        results = {w.config: Result(w.config, args.calls) for w in workers}
        # The workers' own idle cost with no call, so that a call is charged only its share.
        base0 = cpu_of({w.config: [w.sampler] for w in workers})
        time.sleep(BASE_S)
        base1 = cpu_of({w.config: [w.sampler] for w in workers})
        for w in workers:
            results[w.config].base_cores = (base1[w.config] - base0[w.config]) / BASE_S
            results[w.config].uss_before = w.sampler.uss()
            results[w.config].threads_before = w.sampler.threads[-1][1]
        server = Sampler(psutil.Process(livekit.proc.pid))

        if args.callers == "go":
            program = [str(build_go_callers(workdir))]
        else:
            program = [sys.executable, str(ROOT / "benchmarks" / "sip_callers.py")]
        if args.warm_up:
            warm_up(lk_env, workers, program, args.dispatch)
        arrival = args.calls / args.rate
        hold = arrival + UP_TIMEOUT_S + SETTLE_S + args.idle_s  # at the latest
        start = time.time() + 2.0
        plan = [
            [f"cap-{w.config}-{i}", w.name, start + i / args.rate]
            for i in range(args.calls)
            for w in workers
        ]
        callers = start_callers(
            lk_env, plan, hold, args.caller_processes, len(workers), program, args.dispatch
        )
        lines: list[dict[str, Any]] = []
        readers = [threading.Thread(target=_collect, args=(p, lines)) for p in callers]
        for reader in readers:
            reader.start()
        callers_sampler = [Sampler(psutil.Process(p.pid)) for p in callers]
        t_calls = time.monotonic()
        everyone = {"livekit-server": [server], "load generator": callers_sampler}
        everyone |= {w.config: [w.sampler] for w in workers}
        burst0 = cpu_of(everyone)
        psutil.cpu_percent()  # the machine's share from here

        def sample_until(until: float) -> None:
            while time.time() < until:
                for w in workers:
                    w.sampler.sample()
                time.sleep(SAMPLE_S)

        # The idle window: once every call is up by the callers' own clocks (a loaded machine
        # makes them late) and every worker has joined all it will join (its `call.started`
        # count still for JOINED_STILL_S: a join in flight is not idle), plus its `active`
        # and SETTLE_S, for `--idle-s`; then every caller hangs up.
        up_deadline = start + arrival + UP_TIMEOUT_S
        while len({r["room"] for r in list(lines)}) < len(plan) and time.time() < up_deadline:
            sample_until(time.time() + 1)
        joined = {w.config: -1 for w in workers}
        still_since = time.time()
        while time.time() < up_deadline and time.time() - still_since < JOINED_STILL_S:
            now = {w.config: len(w.events("call.started")) for w in workers}
            if now != joined:
                joined, still_since = now, time.time()
            sample_until(time.time() + 1)
        up = [r["dispatched"] for r in list(lines) if r["dispatched"]]
        idle_from = max(max(up) + ACTIVE_S, time.time()) + SETTLE_S
        idle_to = idle_from + args.idle_s
        sample_until(idle_from)
        burst_s = time.monotonic() - t_calls
        burst = cpu_of(everyone)
        print(
            f"burst ({burst_s:.1f} s, calls arriving until all up and settled), cores: "
            + ", ".join(f"{name} {(burst[name] - burst0[name]) / burst_s:.2f}" for name in burst)
            + f"; machine {psutil.cpu_percent() / 100 * psutil.cpu_count():.2f} of"
            f" {psutil.cpu_count()}",
            flush=True,
        )
        cpu0 = {w.config: w.sampler.cpu_total() for w in workers}
        threads0 = {w.config: thread_cpu(w.sampler.pids()) for w in workers}
        for sampler in (server, *callers_sampler):
            sampler.sample()
        load0 = sum(s.cpu_total() for s in callers_sampler)
        server_cpu0 = server.cpu_total()
        t0 = time.time()
        sample_until(idle_to)
        window = time.time() - t0
        for p in callers:
            assert p.stdin is not None
            p.stdin.write(b"hangup\n")
            p.stdin.close()
        for sampler in (server, *callers_sampler):
            sampler.sample()
        load1 = sum(s.cpu_total() for s in callers_sampler)
        for w in workers:
            r = results[w.config]
            r.idle_cores = (w.sampler.cpu_total() - cpu0[w.config]) / window
            r.uss_idle = w.sampler.uss()
            spent = thread_cpu(w.sampler.pids())
            spent.subtract(threads0[w.config])
            r.top_threads = [(n, s / window) for n, s in spent.most_common(8)]
        server_cores = (server.cpu_total() - server_cpu0) / window
        print(
            f"idle window {window:.1f} s: livekit-server {server_cores:.3f}"
            f" cores, load generator {(load1 - load0) / window:.3f} cores"
            f" ({args.caller_processes} processes)",
            flush=True,
        )

        for p, reader in zip(callers, readers, strict=True):
            p.wait(timeout=hold + UP_TIMEOUT_S + 120)
            reader.join()
        done = [rec for rec in lines if rec.get("done")]
        connects = [rec["connect_s"] for rec in done if "connect_s" in rec]
        if connects:
            print(
                f"the callers' own rooms connected in p50 {percentile(connects, 0.5):.2f} s,"
                f" p99 {percentile(connects, 0.99):.2f} s"
                " (the server's share of a join, as a caller sees it)",
                flush=True,
            )
        for rec in lines:
            r = results[rec["agent"].removeprefix("bench-")]
            if rec.get("error"):
                r.errors.append(rec["error"])
            if rec.get("done") and rec["dispatched"]:
                r.dispatched[rec["room"]] = rec["dispatched"]
        # The calls' ends: each caller left; give the workers time to log them.
        end_deadline = time.monotonic() + 30
        while time.monotonic() < end_deadline:
            if all(
                len(w.events("call.ended")) >= len(results[w.config].dispatched) for w in workers
            ):
                break
            sample_until(time.time() + 1)
        for w in workers:
            r = results[w.config]
            in_run = [s for s in w.sampler.threads if s[0] >= t_calls]
            if in_run:
                r.threads_mean = sum(n for _, n in in_run) / len(in_run)
                r.threads_peak = max(n for _, n in in_run)
            for rec in w.events("call.started"):
                if rec.get("room") in r.dispatched:
                    r.started += 1
                    r.joins_ms.append(1000 * (_timestamp(rec) - r.dispatched[rec["room"]]))
            ends = Counter(rec.get("room") for rec in w.events("call.ended"))
            r.ended_once = sum(1 for room in r.dispatched if ends[room] == 1)
            r.ended_twice = sum(1 for room in r.dispatched if ends[room] > 1)
        print(f"logs: {workdir}", flush=True)
        return list(results.values())


def warm_up(
    lk_env: dict[str, str], workers: list[Worker], program: list[str], dispatch: str
) -> None:
    """One short call per worker, then wait until the server's agent list refresh it started
    is over (CHECK_ENABLED_S), so that the burst meets the server as it is between refreshes."""
    started = time.time()
    plan = [[f"cap-warm-up-{w.config}", w.name, started] for w in workers]
    (caller,) = start_callers(lk_env, plan, ACTIVE_S, 1, len(workers), program, dispatch)
    assert caller.stdin is not None
    caller.stdin.close()  # no hangup line: each call ends after ACTIVE_S
    caller.wait(timeout=UP_TIMEOUT_S)
    time.sleep(max(0.0, started + CHECK_ENABLED_S + 1.0 - time.time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per worker")
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second per worker")
    parser.add_argument("--idle-s", type=float, default=15.0, help="all calls idle this long")
    parser.add_argument("--workers", nargs="+", default=["agent", "examples"], choices=COMMANDS)
    parser.add_argument(
        "--callers",
        choices=["go", "python"],
        default="go",
        help="load generator: LiveKit's Go SDK (sip_callers_go, default) or the Python SDK",
    )
    parser.add_argument("--caller-processes", type=int, help="default: 1 for go, 2 for python")
    parser.add_argument(
        "--dispatch",
        choices=["room", "api"],
        default="room",
        help="the agent in the room's configuration (as from a SIP dispatch rule, default)"
        " or CreateDispatch after the caller joined",
    )
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="no warm-up call: the burst meets the server's agent list refresh",
    )
    parser.add_argument("--small", action="store_true", help="20 calls, 10 s idle")
    args = parser.parse_args()
    if args.small:
        args.calls, args.idle_s = 20, 10.0
    if args.caller_processes is None:
        args.caller_processes = 1 if args.callers == "go" else 2
    results = measure(args)
    print(HEADER)
    for r in results:
        print(r.row())
    for r in results:
        top = ", ".join(f"{name} {100 * cores:.1f}%" for name, cores in r.top_threads)
        print(f"{r.config}: top threads while idle (share of a core): {top}")
        if r.errors:
            print(f"{r.config}: {len(r.errors)} caller errors, e.g. {r.errors[0]}")


if __name__ == "__main__":
    main()
