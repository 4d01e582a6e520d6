"""What the server tells one connected Room, as the room events a real server's signalling
would produce (in the order a real server sends them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from livekit.rtc._proto import participant_pb2 as proto_participant
from livekit.rtc._proto import room_pb2 as proto_room
from livekit.rtc._proto.participant_pb2 import DisconnectReason

from .ffi import send
from .participants import Connection, Member


def joined(conn: Connection, member: Member) -> None:
    """participant_connected, its tracks, then participant_active once its media flows."""
    connected = Member(**{**member.__dict__, "active": False})
    send(conn.handle, participant_connected=proto_room.ParticipantConnected(info=connected.owned()))
    for sid in member.tracks:
        track_published(conn, member, sid)
    if member.active:
        active(conn, member.identity)


def active(conn: Connection, identity: str) -> None:
    send(
        conn.handle,
        participant_active=proto_room.ParticipantActive(participant_identity=identity),
    )


def attributes_changed(conn: Connection, member: Member, changed: Mapping[str, str]) -> None:
    send(
        conn.handle,
        participant_attributes_changed=proto_room.ParticipantAttributesChanged(
            participant_identity=member.identity,
            attributes=[
                proto_room.AttributesEntry(key=k, value=v) for k, v in member.attributes.items()
            ],
            changed_attributes=[
                proto_room.AttributesEntry(key=k, value=v) for k, v in changed.items()
            ],
        ),
    )


def track_published(conn: Connection, member: Member, sid: str) -> None:
    send(
        conn.handle,
        track_published=proto_room.TrackPublished(
            participant_identity=member.identity, publication=member.publication(sid)
        ),
    )


def track_unpublished(conn: Connection, identity: str, sid: str) -> None:
    send(
        conn.handle,
        track_unpublished=proto_room.TrackUnpublished(
            participant_identity=identity, publication_sid=sid
        ),
    )


def track_muted(conn: Connection, identity: str, sid: str, muted: bool) -> None:
    if muted:
        send(
            conn.handle,
            track_muted=proto_room.TrackMuted(participant_identity=identity, track_sid=sid),
        )
    else:
        send(
            conn.handle,
            track_unmuted=proto_room.TrackUnmuted(participant_identity=identity, track_sid=sid),
        )


def dtmf(conn: Connection, identity: str, code: int, digit: str) -> None:
    send(
        conn.handle,
        data_packet_received=proto_room.DataPacketReceived(
            kind=proto_room.KIND_RELIABLE,
            participant_identity=identity,
            sip_dtmf=proto_room.SipDTMF(code=code, digit=digit),
        ),
    )


def left(conn: Connection, identity: str, reason: DisconnectReason.ValueType) -> None:
    send(
        conn.handle,
        participant_disconnected=proto_room.ParticipantDisconnected(
            participant_identity=identity, disconnect_reason=reason
        ),
    )


def _state(conn: Connection, state: proto_room.ConnectionState.ValueType) -> None:
    send(conn.handle, connection_state_changed=proto_room.ConnectionStateChanged(state=state))


def restarted(conn: Connection, members: Iterable[Member]) -> None:
    """The connection restarts: reconnecting, every participant gone with no reason,
    reconnected with nobody in the room (as seen on a real server restarted under a call)."""
    _state(conn, proto_room.CONN_RECONNECTING)
    send(conn.handle, reconnecting=proto_room.Reconnecting())
    for member in members:
        left(conn, member.identity, proto_participant.UNKNOWN_REASON)
    _state(conn, proto_room.CONN_CONNECTED)
    send(conn.handle, reconnected=proto_room.Reconnected())


def closed(conn: Connection, reason: DisconnectReason.ValueType) -> None:
    """The server closes the connection: state change, disconnected, then end of stream."""
    _state(conn, proto_room.CONN_DISCONNECTED)
    send(conn.handle, disconnected=proto_room.Disconnected(reason=reason))
    send(conn.handle, eos=proto_room.RoomEOS())


def local_metadata(conn: Connection, metadata: str) -> None:
    send(
        conn.handle,
        participant_metadata_changed=proto_room.ParticipantMetadataChanged(
            participant_identity=conn.local.identity, metadata=metadata
        ),
    )


def local_name(conn: Connection, name: str) -> None:
    send(
        conn.handle,
        participant_name_changed=proto_room.ParticipantNameChanged(
            participant_identity=conn.local.identity, name=name
        ),
    )
