"""Prometheus elsewhere can scrape the worker: /metrics answers on the machine's network address.

The real `python -m agent start` process takes a call, then is scraped over the host's
non-loopback address, as a scraper on another machine (or outside the container) would.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from livekit.protocol import agent

from agent.standin import AgentEndpoint
from agent.testing.polling import eventually, stop_process
from tests.call_log_support import free_port
from tests.test_worker_process import endpoint, start_worker, worker_env  # noqa: F401 (fixture)

ENDED = 'sip_agent_calls_ended_total{direction="inbound",outcome="completed",trunk="ST_twilio"}'


def network_address() -> str:
    """This machine's IPv4 address on its default route: not loopback. (A UDP `connect`
    sends nothing; it only picks the source address.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))
        except OSError as exc:
            pytest.fail(f"no route off this machine, so no non-loopback address to scrape: {exc}")
        address: str = probe.getsockname()[0]
    assert not address.startswith("127."), address
    return address


def metrics_text(address: str, port: int) -> str:
    """GET /metrics, or "" while nothing answers there. Blocking, but brief: the worker is
    another process, and its scrape takes milliseconds."""
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


async def test_metrics_are_scraped_over_the_network_address(
    endpoint: AgentEndpoint,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    """With SIP_AGENT_METRICS_HOST=0.0.0.0 (the image's), a scrape over the machine's
    address sees the call the worker just ended."""
    address, port = network_address(), free_port()
    env = worker_env(endpoint, SIP_AGENT_METRICS_PORT=str(port), SIP_AGENT_METRICS_HOST="0.0.0.0")
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        await endpoint.wait_for_worker("phones-e2e", timeout=30)
        job = await endpoint.dispatch("phones-e2e", "call-room-7")
        await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=30)
        # The job's status may be reported before its last handler ran: poll for the count.
        await eventually(
            lambda: f"{ENDED} 1.0" in metrics_text(address, port), 10, f"{ENDED} 1.0 on {address}"
        )
        text = metrics_text(address, port)
    finally:
        await stop_process(proc)
    assert "sip_agent_calls_active 0.0" in text
    assert "lk_agents_" in text  # the SDK's own metrics come with ours


async def test_the_default_host_keeps_metrics_on_loopback(
    endpoint: AgentEndpoint,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    """Outside a container the default (127.0.0.1) answers locally and not on the network."""
    address, port = network_address(), free_port()
    proc = start_worker(worker_env(endpoint, SIP_AGENT_METRICS_PORT=str(port)), tmp_path / "w.log")
    try:
        await endpoint.wait_for_worker("phones-e2e", timeout=30)
        await eventually(lambda: metrics_text("127.0.0.1", port), 10, f"metrics on :{port}")
        assert "sip_agent_calls_active" in metrics_text("127.0.0.1", port)
        assert metrics_text(address, port) == ""
    finally:
        await stop_process(proc)
