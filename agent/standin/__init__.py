"""The LiveKit stand-in: a fake LiveKit server for real ``rtc.Room`` clients, its `/agent`
worker endpoint and its Twirp API, playing what the real server does, in this process.

The simulator plays scenarios on it and the tests run the worker on it; it imports nothing
of theirs.

- `FakeLiveKit` (`server`) / `FakeRoom` (`room`): rooms whose events reach real
  ``rtc.Room`` objects through the SDK's FFI callback (`ffi`, `signals`)
- `run_job` / `JobRun` (`job`): an entrypoint run as livekit-agents' job runner would
- `TwirpServer` (`twirp`), its answers (`answers`) and what they do to rooms (`room_api`)
- `AgentEndpoint` (`agent_endpoint`, `workers`): the `/agent` WebSocket workers register on
- `Recorder` (`recorder`): a handler keeping every event it is given, to assert on
"""

from .agent_endpoint import AgentEndpoint
from .answers import Answer, Delay, Reply, TwirpError, TwirpRequest, server_error, sip_error
from .job import JobRun, run_job
from .participants import FakeParticipant, dtmf_code
from .recorder import Recorder
from .room import FakeRoom
from .room_api import room_answers, room_effects
from .server import FakeLiveKit
from .twirp import TwirpServer
from .waiting import Changes
from .workers import (
    DispatchedJob,
    EndpointError,
    JobRejectedError,
    NoWorkerError,
    RegisteredWorker,
)

__all__ = [
    "AgentEndpoint",
    "Answer",
    "Changes",
    "Delay",
    "DispatchedJob",
    "EndpointError",
    "FakeLiveKit",
    "FakeParticipant",
    "FakeRoom",
    "JobRejectedError",
    "JobRun",
    "NoWorkerError",
    "Recorder",
    "RegisteredWorker",
    "Reply",
    "TwirpError",
    "TwirpRequest",
    "TwirpServer",
    "dtmf_code",
    "room_answers",
    "room_effects",
    "run_job",
    "server_error",
    "sip_error",
]
