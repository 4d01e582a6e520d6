"""How many times the repeated live tests run: a few in an ordinary run (CI, every stop),
ten or more to trust a new or changed one, as the project asks:
`LIVE_RUNS=10 .venv/bin/pytest -q tests/live/test_worker_lost.py`."""

from __future__ import annotations

import os

DEFAULT_RUNS = 3


def runs(default: int = DEFAULT_RUNS) -> range:
    """`range(LIVE_RUNS)`, or of `default` when it is not set."""
    return range(int(os.environ.get("LIVE_RUNS", default)))
