"""Who is in a stand-in room: the server's participants, and the Rooms connected to it."""

from __future__ import annotations

import secrets
import time
import weakref
from dataclasses import dataclass, field

from livekit import rtc
from livekit.rtc._proto import e2ee_pb2 as proto_e2ee
from livekit.rtc._proto import handle_pb2 as proto_handle
from livekit.rtc._proto import participant_pb2 as proto_participant
from livekit.rtc._proto import track_pb2 as proto_track

from .. import dtmf


def dtmf_code(digit: str) -> int:
    """The RFC 4733 event code of a DTMF digit (0-9, * = 10, # = 11, A-D = 12-15)."""
    try:
        return dtmf.CODES[digit.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF digit: {digit!r}") from None


def new_sid(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


@dataclass(frozen=True)
class FakeParticipant:
    """The server's view of a participant (what a RoomService ListParticipants would show)."""

    identity: str
    sid: str
    kind: str
    name: str
    attributes: dict[str, str]
    active: bool
    joined_at: int


@dataclass
class Member:
    """A participant as the stand-in server keeps it."""

    identity: str
    sid: str
    kind: proto_participant.ParticipantKind.ValueType
    name: str
    attributes: dict[str, str]
    active: bool
    joined_at: int = field(default_factory=lambda: int(time.time()))
    metadata: str = ""
    joined_with: dict[str, str] = field(default_factory=dict)
    """The attributes it joined with: what it comes back with after a server restart."""
    tracks: dict[str, proto_track.TrackPublicationInfo] = field(default_factory=dict)
    """Its published tracks, by track sid."""

    def publication(self, sid: str) -> proto_track.OwnedTrackPublication:
        # handles stay 0, as for participants: nothing for the SDK to free
        return proto_track.OwnedTrackPublication(
            handle=proto_handle.FfiOwnedHandle(id=0), info=self.tracks[sid]
        )

    def info(self) -> proto_participant.ParticipantInfo:
        return proto_participant.ParticipantInfo(
            sid=self.sid,
            name=self.name,
            identity=self.identity,
            state=(
                proto_participant.PARTICIPANT_STATE_ACTIVE
                if self.active
                else proto_participant.PARTICIPANT_STATE_JOINED
            ),
            metadata=self.metadata,
            attributes=self.attributes,
            kind=self.kind,
            disconnect_reason=proto_participant.UNKNOWN_REASON,
            joined_at=self.joined_at,
            client_protocol=0,
        )

    def owned(self, handle: int = 0) -> proto_participant.OwnedParticipant:
        # remote participant handles stay 0: FfiHandle.dispose skips those
        return proto_participant.OwnedParticipant(
            handle=proto_handle.FfiOwnedHandle(id=handle), info=self.info()
        )

    def public(self) -> FakeParticipant:
        return FakeParticipant(
            identity=self.identity,
            sid=self.sid,
            kind=proto_participant.ParticipantKind.Name(self.kind).removeprefix(
                "PARTICIPANT_KIND_"
            ),
            name=self.name,
            attributes=dict(self.attributes),
            active=self.active,
            joined_at=self.joined_at,
        )


def track_info(kind: str, sid: str) -> proto_track.TrackPublicationInfo:
    """A published track as the server describes it: `audio` (microphone) or `video`."""
    audio = kind == "audio"
    return proto_track.TrackPublicationInfo(
        sid=sid,
        name=kind,
        kind=proto_track.KIND_AUDIO if audio else proto_track.KIND_VIDEO,
        source=proto_track.SOURCE_MICROPHONE if audio else proto_track.SOURCE_CAMERA,
        simulcasted=False,
        width=0,
        height=0,
        mime_type="audio/opus" if audio else "video/vp8",
        muted=False,
        remote=True,
        encryption_type=proto_e2ee.NONE,
    )


@dataclass
class Connection:
    """One rtc.Room connected to a FakeRoom: its fake room handle and local participant."""

    handle: int
    local_handle: int
    local: Member
    room: weakref.ReferenceType[rtc.Room] | None
    live: bool = True

    def rtc_room(self) -> rtc.Room | None:
        """The connected Room, unless it was garbage-collected."""
        return self.room() if self.room is not None else None
