"""Join tokens, checked as LiveKit checks them when a Room connects."""

from __future__ import annotations

import warnings
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from livekit.rtc._proto import participant_pb2 as proto_participant

from .participants import Member, new_sid

_TOKEN_KINDS = {
    "standard": proto_participant.PARTICIPANT_KIND_STANDARD,
    "ingress": proto_participant.PARTICIPANT_KIND_INGRESS,
    "egress": proto_participant.PARTICIPANT_KIND_EGRESS,
    "sip": proto_participant.PARTICIPANT_KIND_SIP,
    "agent": proto_participant.PARTICIPANT_KIND_AGENT,
    "connector": proto_participant.PARTICIPANT_KIND_CONNECTOR,
    "bridge": proto_participant.PARTICIPANT_KIND_BRIDGE,
}


def joining(token: str, api_key: str, api_secret: str) -> tuple[str, Member]:
    """The room a token joins and the participant it joins as; raises jwt.PyJWTError with
    the reason a server would refuse it."""
    with warnings.catch_warnings():
        # test secrets are short; a real server accepts them too
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        claims: dict[str, Any] = jwt.decode(
            token, api_secret, algorithms=["HS256"], options={"verify_aud": False}
        )
    if claims.get("iss") != api_key:
        raise jwt.InvalidIssuerError(f"unknown API key {claims.get('iss')!r}")
    video = claims.get("video") or {}
    if not video.get("roomJoin") or not video.get("room"):
        raise jwt.InvalidTokenError("token has no roomJoin grant for a room")
    identity = str(claims.get("sub") or "")
    if not identity:
        raise jwt.InvalidTokenError("token has no identity")
    kind = _TOKEN_KINDS.get(str(claims.get("kind") or ""))
    if kind is None:
        kind = (
            proto_participant.PARTICIPANT_KIND_AGENT
            if video.get("agent")
            else proto_participant.PARTICIPANT_KIND_STANDARD
        )
    member = Member(
        identity=identity,
        sid=new_sid("PA"),
        kind=kind,
        name=str(claims.get("name") or ""),
        attributes={str(k): str(v) for k, v in (claims.get("attributes") or {}).items()},
        active=True,
        metadata=str(claims.get("metadata") or ""),
    )
    return str(video["room"]), member
