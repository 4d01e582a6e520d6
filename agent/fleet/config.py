"""The fleet's configuration: on when the worker has a database (the `store` or `webhook`
handler), checked once at start."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from ..errors import ConfigError
from ..settings import Settings


@dataclass(frozen=True, slots=True)
class FleetConfig:
    worker_id: str
    """This worker process's own id: new at every start, so a restarted worker finds its
    previous run's calls held by a worker that no longer beats."""
    db_url: str
    agent_name: str
    heartbeat_s: float
    lease_s: float
    host: str
    pid: int


def fleet_config(settings: Settings, handlers: tuple[str, ...]) -> FleetConfig | None:
    """The fleet's part for these settings and handler names; ConfigError in one line."""
    if not {"store", "webhook"} & set(handlers):
        return None
    if settings.fleet_lease_s <= 2 * settings.fleet_heartbeat_s:
        msg = (
            f"invalid setting SIP_AGENT_FLEET_LEASE_S: must be more than twice"
            f" SIP_AGENT_FLEET_HEARTBEAT_S ({settings.fleet_heartbeat_s}), or one late beat"
            f" would hand a live worker's calls to another (got {settings.fleet_lease_s})"
        )
        raise ConfigError(msg)
    host = socket.gethostname()
    pid = os.getpid()
    return FleetConfig(
        worker_id=f"{host}:{pid}:{secrets.token_hex(4)}"[-64:],
        db_url=settings.db_url,
        agent_name=settings.name,
        heartbeat_s=settings.fleet_heartbeat_s,
        lease_s=settings.fleet_lease_s,
        host=host[:255],
        pid=pid,
    )
