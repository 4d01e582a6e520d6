"""Which STUN servers the worker's rooms ask (`SIP_AGENT_ICE_SERVERS`, agent/ice.py).

livekit-server 1.13.5 with no `rtc.stun_servers` sends Twilio's and Google's public STUN
host names, and the SDK's libwebrtc looks each one up, per network and per joining room, in
a native thread of its own (`AsyncResolver`): the worker's threads grow with the calls that
are joining. With `none` the rooms ask no server by name: no such thread, and the call is
tracked as ever.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .calls import canceled_call
from .provision import Line
from .sipp import Phone, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live

RESOLVER = "AsyncResolver"
"""libwebrtc's name for a thread that runs one name lookup (it lives for the lookup: a
millisecond here, too short to be caught by sampling /proc)."""


def under_strace(trace: Path) -> list[str]:
    """A wrapper that writes every thread naming of the worker (prctl PR_SET_NAME) to
    `trace`; seccomp-bpf stops the worker on prctl calls only, so it runs at its own pace."""
    return ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=prctl", "-o", str(trace)]


def threads_named(trace: Path, name: str) -> int:
    return trace.read_text().count(f'PR_SET_NAME, "{name}"')


@pytest.mark.parametrize(
    ("ice_servers", "lookups"),
    [("none", False), ("", True)],  # unset: LiveKit's servers, by name; the contrast
    ids=["none", "livekits"],
)
async def test_stun_host_names_are_looked_up_unless_none(
    live_stack: Stack,
    own_line: Callable[..., tuple[Line, Worker]],
    phone: Phone,
    tmp_path: Path,
    ice_servers: str,
    lookups: bool,
) -> None:
    trace = tmp_path / "threads.strace"
    line, worker = own_line(wrapper=under_strace(trace), ice_servers=ice_servers)
    # Started: the job's room has joined.
    _, ended = await canceled_call(live_stack, phone, worker, caller_keys(line.number))

    assert (ended["outcome"], ended["ended_by"]) == ("canceled", "caller")
    assert threads_named(trace, "network_thread ") == 1  # the room's native threads, traced
    assert (threads_named(trace, RESOLVER) > 0) is lookups
