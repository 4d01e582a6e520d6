"""`/metrics` on SIP_AGENT_METRICS_HOST:SIP_AGENT_METRICS_PORT, served beside the SDK.

livekit-agents would serve its Prometheus endpoint on the host of its own HTTP server, which
stays on loopback (agent/server.py; agent/health.py reaches it there). A scraper outside the
process's machine or container needs another address, so the worker serves /metrics itself,
with the SDK's handler: it sums the job processes' files under the process executor.
"""

from __future__ import annotations

import asyncio
import logging

from livekit.agents.telemetry.http_server import HttpServer

from .capacity import CallsServer

logger = logging.getLogger(__name__)


class MetricsServer(HttpServer):
    """The SDK's metrics app on our address, started with the worker and closed with it."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self._starting: asyncio.Task[None] | None = None

    def start_soon(self) -> None:
        # Kept on the instance: the loop holds only a weak reference to a task.
        self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        await self.start()
        logger.info("metrics served at http://%s:%s/metrics", self.host, self.port)


def serve(server: CallsServer, host: str, port: int) -> MetricsServer:
    """Serve /metrics on `host`:`port` once the worker runs; closed with the worker."""
    metrics_server = MetricsServer(host, port)
    server.close_with_worker(metrics_server.aclose)
    server.on("worker_started", metrics_server.start_soon)
    return metrics_server
