"""Prometheus elsewhere can scrape the worker: /metrics answers from another network namespace.

The real `python -m agent start` process takes a call; the scrape comes from a network
namespace of the test's own, joined to this one by a veth pair, as a scraper on another
machine (or outside a container) would reach it: over an interface, never loopback. Needs
root for `ip netns` (as CI and this project's machines run); skipped elsewhere, failed under CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from livekit.protocol import agent

from agent.standin import AgentEndpoint
from agent.testing.polling import eventually, stop_process
from tests.call_log_support import free_port
from tests.test_worker_process import endpoint, start_worker, worker_env  # noqa: F401 (fixture)

ENDED = 'sip_agent_calls_ended_total{direction="inbound",outcome="completed",trunk="ST_twilio"}'
# This side of the veth pair, and the namespace's side (a /30 of our own, per test process).
HOST_SIDE, NAMESPACE_SIDE = f"10.213.{os.getpid() % 250}.1", f"10.213.{os.getpid() % 250}.2"
GET = (
    "import sys, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())\n"
    "except OSError:\n"
    "    pass\n"
)

Scrape = Callable[[str, int], str]


def _ip(*args: str, check: bool = True) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0 or not check, f"ip {' '.join(args)}: {result.stderr.strip()}"


@pytest.fixture
def scrape_from_elsewhere() -> Iterator[Scrape]:
    """`scrape(address, port)`: /metrics fetched from inside a namespace of our own ("" when
    nothing answers), whose only way to this one is the veth pair to HOST_SIDE."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("a network namespace of the test's own needs root (ip netns)")
        pytest.skip("a network namespace of the test's own needs root (ip netns)")
    name = f"sa{os.getpid()}"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", f"{name}h", "type", "veth", "peer", "name", f"{name}n", "netns", name)
        _ip("addr", "add", f"{HOST_SIDE}/30", "dev", f"{name}h")
        _ip("link", "set", f"{name}h", "up")
        _ip("-n", name, "addr", "add", f"{NAMESPACE_SIDE}/30", "dev", f"{name}n")
        _ip("-n", name, "link", "set", f"{name}n", "up")

        yield lambda address, port: fetch(address, port, "ip", "netns", "exec", name)
    finally:
        # Ours first: the pair would go with the namespace, but only once nothing holds it.
        _ip("link", "del", f"{name}h", check=False)
        _ip("netns", "del", name)


async def test_metrics_are_scraped_from_another_network_namespace(
    endpoint: AgentEndpoint,  # noqa: F811 (the fixture)
    scrape_from_elsewhere: Scrape,
    tmp_path: Path,
) -> None:
    """With SIP_AGENT_METRICS_HOST=0.0.0.0 (the image's), a scrape from elsewhere sees the
    call the worker just ended."""
    port = free_port()
    env = worker_env(endpoint, SIP_AGENT_METRICS_PORT=str(port), SIP_AGENT_METRICS_HOST="0.0.0.0")
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        await endpoint.wait_for_worker("phones-e2e", timeout=30)
        job = await endpoint.dispatch("phones-e2e", "call-room-7")
        await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=30)
        # The job's status may be reported before its last handler ran: poll for the count.
        await eventually(
            lambda: f"{ENDED} 1.0" in scrape_from_elsewhere(HOST_SIDE, port), 10, f"{ENDED} 1.0"
        )
        text = scrape_from_elsewhere(HOST_SIDE, port)
    finally:
        await stop_process(proc)
    assert "sip_agent_calls_active 0.0" in text
    assert "lk_agents_" in text  # the SDK's own metrics come with ours


async def test_the_default_host_keeps_metrics_on_loopback(
    endpoint: AgentEndpoint,  # noqa: F811 (the fixture)
    scrape_from_elsewhere: Scrape,
    tmp_path: Path,
) -> None:
    """Outside a container the default (127.0.0.1) answers locally and not elsewhere."""
    port = free_port()
    proc = start_worker(worker_env(endpoint, SIP_AGENT_METRICS_PORT=str(port)), tmp_path / "w.log")
    try:
        await endpoint.wait_for_worker("phones-e2e", timeout=30)
        await eventually(lambda: fetch("127.0.0.1", port), 10, f"metrics on 127.0.0.1:{port}")
        assert "sip_agent_calls_active" in fetch("127.0.0.1", port)
        assert scrape_from_elsewhere(HOST_SIDE, port) == ""
    finally:
        await stop_process(proc)


def fetch(address: str, port: int, *prefix: str) -> str:
    """/metrics at `address`:`port` fetched by a process run under `prefix` ("" when nothing
    answers). A process, briefly blocking: the worker answers a scrape in milliseconds."""
    command = [*prefix, sys.executable, "-c", GET, f"http://{address}:{port}/metrics"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout
