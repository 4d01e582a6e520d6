"""The job room's peer connection: gathered once, and the STUN servers it asks
(`SIP_AGENT_ICE_SERVERS`).

A room that only listens needs one peer connection, gathered once: measured against a real
livekit-server, that cut the SDK's native idle cost of a room to about a third
(benchmarks/BENCHMARKS.md section 5). The SDK's reconnect still restarts ICE when needed.

Which STUN servers: by default those LiveKit sends in the join response. livekit-server
sends Twilio's and Google's public STUN host names when it has none configured, and the
SDK's libwebrtc looks each one up, for every network of the machine and every joining room,
in a thread of its own: measured, 6 for one room (strace), 2,600 - 3,300 at once in a burst
of 100 calls on a machine whose DNS did not answer them (a worker's threads then grow with
the calls it takes). A worker that reaches LiveKit directly (beside it, or LiveKit with
a public address, as LiveKit Cloud has) needs no STUN: the server learns the worker's address
from its own connectivity checks. `none` says so; the SDK takes an empty list as "use
LiveKit's", so `none` hands libwebrtc one STUN address on this machine's discard port (9),
which asks no name server and answers nothing. `stun:` URLs of your own replace LiveKit's.
"""

from __future__ import annotations

from livekit import rtc

from .settings import NO_ICE_SERVERS

UNANSWERED_STUN = "stun:127.0.0.1:9"
"""What `none` gives libwebrtc: an address, so no lookup; nobody listens, so no answer."""


def listener_rtc(ice_servers: tuple[str, ...] = ()) -> rtc.RtcConfiguration:
    """The job room's RTC configuration: ICE gathered once; `ice_servers` as the setting
    gives them (empty: LiveKit's)."""
    urls = [UNANSWERED_STUN] if ice_servers == (NO_ICE_SERVERS,) else list(ice_servers)
    return rtc.RtcConfiguration(
        continual_gathering_policy=rtc.ContinualGatheringPolicy.GATHER_ONCE,
        ice_servers=[rtc.IceServer(urls=urls)] if urls else [],
    )
