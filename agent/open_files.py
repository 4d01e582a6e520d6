"""Enough open files for `SIP_AGENT_MAX_CALLS` calls, checked at start.

Each call's room holds ~20 sockets (measured against a real livekit-server: 1,010 open
files at 50 idle calls, nearly all sockets: the signal connection and the peer connection's
ports on every network of the machine), more while it joins: 500 calls arriving at 10/s ran
a worker out of 20,000 ("Too many open files (os error 24)" from the room's connect, and
calls lost). With the 1,024 soft limit systemd and many shells give a process it would run
out at ~45 calls. So at start the soft limit is raised to the hard one (what a process may
do on its own), and a hard limit that cannot carry `SIP_AGENT_MAX_CALLS` stops start-up,
naming the setting.
"""

from __future__ import annotations

import resource

from .errors import ConfigError

PER_CALL = 40
"""Open files a call may hold: ~20 measured idle, up to ~40 while a burst joins."""
BASE = 200
"""The worker's own: its log, database, HTTP servers, the SDK's threads and pipes."""


def needed(max_calls: int) -> int:
    return BASE + PER_CALL * max_calls


def ensure_open_files(max_calls: int) -> int:
    """Raise this process's soft open-file limit to its hard limit; the limit now in force.
    ConfigError when even that is short of what `max_calls` calls need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    target = hard if hard != unlimited else max(soft, needed(max_calls))
    if soft != unlimited and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):  # the kernel's own ceiling (fs.nr_open) is lower
            target = soft
    if target != unlimited and target < needed(max_calls):
        fits = max(0, (target - BASE) // PER_CALL)
        msg = (
            f"invalid setting SIP_AGENT_MAX_CALLS: {max_calls} calls need ~{needed(max_calls)}"
            f" open files (about {PER_CALL} a call), and this process may open {target} (its"
            f" hard limit): set SIP_AGENT_MAX_CALLS to {fits} or less, or raise the limit"
            " (`ulimit -n`, systemd's LimitNOFILE=, `--ulimit nofile=` for a container)"
        )
        raise ConfigError(msg)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
