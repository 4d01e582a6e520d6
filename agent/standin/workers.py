"""What the `/agent` stand-in knows about workers and their jobs: registrations, dispatched
jobs, the errors a dispatch can end in, and the room token LiveKit mints for an agent."""

from __future__ import annotations

import asyncio
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web
from livekit import api
from livekit.protocol import agent, models


class EndpointError(Exception):
    """A dispatch or job operation the stand-in (like LiveKit) cannot carry out."""


class NoWorkerError(EndpointError):
    """No connected worker has registered the requested agent name."""


class JobRejectedError(EndpointError):
    """Every candidate worker answered the AvailabilityRequest with available=False."""


@dataclass(frozen=True)
class RegisteredWorker:
    """One accepted registration, kept so tests can assert on what the worker announced."""

    worker_id: str
    request: agent.RegisterWorkerRequest
    registered_at: float  # time.monotonic() when the RegisterWorkerResponse was sent


@dataclass(frozen=True)
class DispatchedJob:
    """A job the worker accepted and was assigned, with the token it will join with."""

    job: agent.Job
    worker_id: str
    availability: agent.AvailabilityResponse
    assignment: agent.JobAssignment

    @property
    def id(self) -> str:
        """The job id, which UpdateJobStatus and JobTermination refer to."""
        return self.job.id

    @property
    def participant_identity(self) -> str:
        """The identity the agent participant gets in the room."""
        return self.job.state.participant_identity


class WorkerConnection:
    """Per-WebSocket state: the registration and the availability answers still awaited."""

    def __init__(self, ws: web.WebSocketResponse, worker: RegisteredWorker) -> None:
        self.ws = ws
        self.worker = worker
        self.pending: dict[str, asyncio.Future[agent.AvailabilityResponse]] = {}
        self.last_status: agent.UpdateWorkerStatus | None = None


@contextmanager
def short_secrets_allowed() -> Iterator[None]:
    """LiveKit's dev credentials (devkey/secret) are shorter than pyjwt likes; that warning is
    about the test's choice of secret, not the protocol, and would fail warnings-as-errors runs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The HMAC key is", category=UserWarning)
        yield


def new_id(prefix: str) -> str:
    """Ids shaped like LiveKit's (`AJ_…`, `AW_…`), so logs read the same as in production."""
    return prefix + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")


def agent_token(
    api_key: str,
    api_secret: str,
    worker: RegisteredWorker,
    job: agent.Job,
    resp: agent.AvailabilityResponse,
    identity: str,
) -> str:
    """The room token LiveKit mints for an agent: the worker's permissions, kind=agent."""
    perms = worker.request.allowed_permissions
    sources = [models.TrackSource.Name(s).lower() for s in perms.can_publish_sources]
    grants = api.VideoGrants(
        room_join=True,
        room=job.room.name,
        agent=True,
        can_publish=perms.can_publish,
        can_subscribe=perms.can_subscribe,
        can_publish_data=perms.can_publish_data,
        can_update_own_metadata=perms.can_update_metadata,
        can_publish_sources=sources or None,
        hidden=perms.hidden,
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_name(resp.participant_name)
        .with_metadata(resp.participant_metadata)
        .with_attributes(dict(resp.participant_attributes))
        .with_grants(grants)
    )
    with short_secrets_allowed():
        return token.to_jwt()
