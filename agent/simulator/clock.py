"""Scenario time: the worker's calls read it, so durations are the script's, not the CPU's."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..clock import utc_now


class ScenarioClock:
    """Starts at the real time the play starts and moves only on `wait` steps, so a
    `wait = 30` between `active` and the hang-up gives `talk_s = 30.0` at any speed."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or utc_now()
        self._elapsed = timedelta(0)

    def __call__(self) -> datetime:
        return self._start + self._elapsed

    @property
    def elapsed(self) -> float:
        return self._elapsed.total_seconds()

    def advance(self, seconds: float) -> None:
        self._elapsed += timedelta(seconds=seconds)

    def advance_to(self, at: datetime) -> None:
        """Move to `at` exactly (never back): a deadline read off this clock is then due."""
        self._elapsed = max(self._elapsed, at - self._start)
