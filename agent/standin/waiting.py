"""Waiting on a state change, not on a clock: whoever changes the state calls `changed()`,
and each waiter's check runs again right then."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Changes:
    """The waiters on one object's state; `until(find)` returns what `find` found."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._waiters: list[tuple[Callable[[], object], asyncio.Future[object]]] = []

    def changed(self) -> None:
        """Safe from any thread: a sender thread's log line wakes a test's event loop."""
        for find, waiter in list(self._waiters):
            loop = waiter.get_loop()
            try:
                here = asyncio.get_running_loop() is loop
            except RuntimeError:
                here = False
            if here:
                _settle(find, waiter)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_settle, find, waiter)

    async def until(
        self,
        find: Callable[[], T | None],
        timeout: float,
        what: str,
        seen: Callable[[], object] | None = None,
    ) -> T:
        """What `find` returns once it is not None (checked now and on every change); a
        TimeoutError naming `what` (and what was `seen` instead) after `timeout` seconds."""
        found = find()
        if found is not None:
            return found
        waiter = asyncio.get_running_loop().create_future()
        entry = (find, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await waiter  # type: ignore[no-any-return]
        except TimeoutError:
            got = f"; got {seen()}" if seen is not None else ""
            msg = f"{self.name}: no {what} within {timeout:g}s{got}"
            raise TimeoutError(msg) from None
        finally:
            self._waiters.remove(entry)

    async def holds(
        self,
        check: Callable[[], bool],
        timeout: float,
        what: str,
        seen: Callable[[], object] | None = None,
    ) -> None:
        """`until` for a yes/no check."""
        await self.until(lambda: True if check() else None, timeout, what, seen)


def _settle(find: Callable[[], object], waiter: asyncio.Future[object]) -> None:
    if not waiter.done() and (found := find()) is not None:
        waiter.set_result(found)
