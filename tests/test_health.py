"""The health endpoint: the SDK's own check plus the handlers that must work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from live_worker import AGENT, get, health_endpoint

from agent import health
from agent.events import CallEvent


class Store:
    """A required handler whose database can be switched off."""

    name = "store"

    def __init__(self) -> None:
        self.database_up = True

    async def handle(self, event: CallEvent) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def health_check(self) -> str | None:
        return None if self.database_up else "database unreachable"


@pytest.fixture
async def probe() -> AsyncIterator[tuple[health.Health, Store, str]]:
    """A running worker with a store handler; yields its health, the store and the base URL."""
    checks, store = health.Health(), Store()
    health.add_handler_checks(checks, [store])
    async with health_endpoint(checks) as url:
        yield checks, store, url


async def test_healthy_when_livekit_and_every_required_handler_work(probe) -> None:
    """GET / answers 200 OK while the worker is connected and the store's check passes."""
    _, _, url = probe
    assert await get(url + "/") == (200, "OK")


async def test_unhealthy_while_a_required_handler_cannot_work(probe) -> None:
    """The store's failing check turns GET / into a 503 naming it, until it recovers."""
    _, store, url = probe
    store.database_up = False
    assert await get(url + "/") == (503, "store: database unreachable")
    store.database_up = True
    assert await get(url + "/") == (200, "OK")


async def test_liveness_ignores_handlers(probe) -> None:
    """GET /livez stays 200 while a handler fails: restarting would not bring a database back."""
    _, store, url = probe
    store.database_up = False
    assert (await get(url + "/"))[0] == 503
    assert await get(url + "/livez") == (200, "OK")


async def test_a_reported_problem_is_unhealthy_until_cleared(probe) -> None:
    """A component in the worker process can push a problem and clear it."""
    checks, _, url = probe
    checks.report("outbox", "disk full")
    assert await get(url + "/") == (503, "outbox: disk full")
    checks.report("outbox", None)
    assert (await get(url + "/"))[0] == 200


async def test_worker_info_is_passed_through(probe) -> None:
    """GET /worker is the SDK's worker description."""
    _, _, url = probe
    status, body = await get(url + "/worker")
    assert status == 200
    assert json.loads(body)["agent_name"] == AGENT


async def test_a_check_that_hangs_counts_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that never answers is reported after the check timeout."""
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.01)
    checks = health.Health()

    async def hangs() -> str | None:
        await asyncio.sleep(1)
        return None

    checks.add_check("outbox", hangs)
    assert await checks.problems() == {"outbox": "no answer within 0.01s"}
