"""Waiting for a condition to hold, woken by whoever changes it: no sleeping poll."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Waiters:
    """`wait_for(check)` returns once `check()` holds; `notify()` after each change (from
    any thread: a sender thread's log line wakes a test's event loop)."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def notify(self) -> None:
        for check, waiter in list(self._waiting):
            loop = waiter.get_loop()
            try:
                same_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                same_loop = False
            if same_loop:
                _settle(check, waiter)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_settle, check, waiter)

    async def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Raises TimeoutError saying `what` did not happen within `timeout` seconds."""
        if check():
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (check, waiter)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            raise TimeoutError(f"no {what} within {timeout:g}s") from None
        finally:
            self._waiting.remove(entry)


def _settle(check: Callable[[], bool], waiter: asyncio.Future[None]) -> None:
    if not waiter.done() and check():
        waiter.set_result(None)
