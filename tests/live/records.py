"""Records arriving from another thread (log lines, webhooks) and tests waiting for them.

`wait_for` returns the first record, already there or still to come, that matches: it wakes
on arrival, it never polls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


def where(**fields: Any) -> Predicate:
    """Records whose `fields` have these values; a dotted name looks inside (`room.name`)."""

    def predicate(record: Record) -> bool:
        return all(_get(record, key) == value for key, value in fields.items())

    return predicate


def _get(record: Record, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class Records:
    """An append-only list of records with waiters. `closed` ends every wait (the source is
    gone); `describe()` says where to look when a wait fails."""

    def __init__(self, describe: Callable[[], str]) -> None:
        self.describe = describe
        self._items: list[Record] = []
        self._closed = False
        self._changed = threading.Condition()
        self._waiters: list[tuple[Predicate, asyncio.Future[Record | None]]] = []

    def add(self, record: Record) -> None:
        with self._changed:
            self._items.append(record)
            self._changed.notify_all()
            for predicate, future in self._waiters:
                if _safe(predicate, record):
                    _settle(future, record)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            for _, future in self._waiters:
                _settle(future, None)

    def all(self, predicate: Predicate = lambda _: True) -> list[Record]:
        with self._changed:
            return [r for r in self._items if _safe(predicate, r)]

    def _first(self, predicate: Predicate) -> Record | None:
        return next((r for r in self._items if _safe(predicate, r)), None)

    async def wait_for(self, predicate: Predicate, timeout: float, what: str) -> Record:
        future: asyncio.Future[Record | None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        with self._changed:
            found = self._first(predicate)
            if found is not None:
                return found
            if self._closed:
                raise AssertionError(f"{what}: never came\n{self.describe()}")
            self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                record = await future
        except TimeoutError:
            raise AssertionError(f"{what}: not within {timeout} s\n{self.describe()}") from None
        finally:
            with self._changed:
                self._waiters.remove(entry)
        if record is None:
            raise AssertionError(f"{what}: never came\n{self.describe()}")
        return record

    def wait_for_sync(self, predicate: Predicate, timeout: float, what: str) -> Record:
        """`wait_for` outside an event loop (fixtures)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._closed or self._first(predicate) is not None, timeout
            )
            found = self._first(predicate)
        if found is None:
            raise RuntimeError(
                f"{what}: {'never came' if self._closed else 'timed out'}\n{self.describe()}"
            )
        return found


def _safe(predicate: Predicate, record: Record) -> bool:
    try:
        return predicate(record)
    except Exception:
        return False


def _settle(future: asyncio.Future[Record | None], record: Record | None) -> None:
    """Resolve a waiter from the producing thread; None: the source closed."""

    def settle() -> None:
        if not future.done():
            future.set_result(record)

    future.get_loop().call_soon_threadsafe(settle)
