"""A server-side room of the stand-in: its participants, and the Rooms connected to it.

Tests and the simulator drive it (join, attributes, DTMF, leave, delete, a connection
restart) the way LiveKit's SIP service and server would; every change reaches each
connected ``rtc.Room`` as the room events a real server sends (`signals`).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping

from livekit import rtc
from livekit.rtc._proto import handle_pb2 as proto_handle
from livekit.rtc._proto import participant_pb2 as proto_participant
from livekit.rtc._proto import room_pb2 as proto_room

from . import signals
from .ffi import handle_ids, listening, processed
from .participants import Connection, FakeParticipant, Member, dtmf_code, new_sid, track_info


class FakeRoom:
    """A server-side room: holds participants and pushes their changes to connected Rooms."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sid = new_sid("RM")
        self.created_at = int(time.time())
        self.members: dict[str, Member] = {}
        self.connections: dict[int, Connection] = {}
        self._away: set[str] = set()
        """Members the agent's Rooms lost in a connection restart, until `rejoin()`."""
        self.deleted = False

    def __repr__(self) -> str:
        return f"FakeRoom(name={self.name!r}, sid={self.sid!r})"

    # -- what the tests drive -------------------------------------------------------------

    def join(
        self,
        identity: str,
        *,
        kind: str = "SIP",
        attributes: Mapping[str, str] | None = None,
        name: str = "",
        active: bool = True,
    ) -> None:
        """A participant joins; connected Rooms see participant_connected (+ _active)."""
        if identity in self.members:
            raise ValueError(f"{identity!r} is already in room {self.name!r}")
        self.deleted = False  # a call into a deleted room's name creates it again
        try:
            kind_value = proto_participant.ParticipantKind.Value(f"PARTICIPANT_KIND_{kind}")
        except ValueError:
            raise ValueError(f"unknown participant kind {kind!r}") from None
        member = Member(
            identity=identity,
            sid=new_sid("PA"),
            kind=kind_value,
            name=name,
            attributes=dict(attributes or {}),
            active=active,
            joined_with=dict(attributes or {}),
        )
        self.members[identity] = member
        for conn in self.live():
            signals.joined(conn, member)

    def activate(self, identity: str) -> None:
        """A participant that joined with ``active=False`` becomes active (media flowing)."""
        member = self._member(identity)
        if member.active:
            return
        member.active = True
        for conn in self.live():
            signals.active(conn, identity)

    def set_attributes(self, identity: str, changes: Mapping[str, str | None]) -> None:
        """Update attributes (None deletes a key), as UpdateParticipant or the SIP service do."""
        member = self._member(identity)
        changed: dict[str, str] = {}
        for key, value in changes.items():
            if value is None:
                if key in member.attributes:
                    del member.attributes[key]
                    changed[key] = ""  # LiveKit reports a deleted key with an empty value
            elif member.attributes.get(key) != value:
                member.attributes[key] = value
                changed[key] = value
        if not changed or identity in self._away:
            return  # nothing changed, or nobody to tell: `rejoin()` brings the new values
        for conn in self.live():
            signals.attributes_changed(conn, member, changed)

    def publish(self, identity: str, kind: str = "audio") -> str:
        """The participant publishes a track (`audio` or `video`); its sid. Seen by every
        Room as track_published, with no subscription (this worker subscribes to nothing)."""
        member = self._member(identity)
        sid = new_sid("TR")
        member.tracks[sid] = track_info(kind, sid)
        for conn in self.live():
            signals.track_published(conn, member, sid)
        return sid

    def unpublish(self, identity: str, sid: str | None = None) -> None:
        """The participant unpublishes a track (its first one when `sid` is None)."""
        member = self._member(identity)
        sid = sid or next(iter(member.tracks), None)
        if sid is None or member.tracks.pop(sid, None) is None:
            raise KeyError(f"{identity!r} publishes no track {sid or ''}".rstrip())
        for conn in self.live():
            signals.track_unpublished(conn, identity, sid)

    def mute(self, identity: str, muted: bool = True, sid: str | None = None) -> None:
        """The participant mutes (or unmutes) a track (its first one when `sid` is None)."""
        member = self._member(identity)
        sid = sid or next(iter(member.tracks), None)
        if sid is None or sid not in member.tracks:
            raise KeyError(f"{identity!r} publishes no track {sid or ''}".rstrip())
        member.tracks[sid].muted = muted
        for conn in self.live():
            signals.track_muted(conn, identity, sid, muted)

    def dtmf(self, identity: str, digit: str, code: int | None = None) -> None:
        """The participant sends a DTMF digit (SIP INFO / RFC 4733), seen as sip_dtmf_received."""
        self._member(identity)
        code = dtmf_code(digit) if code is None else code
        for conn in self.live():
            signals.dtmf(conn, identity, code, digit)

    def leave(self, identity: str, reason: str = "CLIENT_INITIATED") -> None:
        """The participant leaves with a DisconnectReason given by name (USER_REJECTED, ...)."""
        try:
            reason_value = proto_participant.DisconnectReason.Value(reason)
        except ValueError:
            raise ValueError(f"unknown disconnect reason {reason!r}") from None
        self._member(identity)
        del self.members[identity]
        if identity in self._away:
            self._away.discard(identity)  # gone while the agent could not see it
            return
        for conn in self.live():
            signals.left(conn, identity, reason_value)

    def delete(self, *, tell_rooms: bool = True) -> None:
        """DeleteRoom: Rooms get disconnected(ROOM_DELETED), no participant_disconnected.

        `tell_rooms=False`: the room is gone on the server, but the agents' Rooms have not
        processed their disconnect yet, as when LiveKit's job termination overtakes it
        (seen on a real server); whatever the job does next decides what they see."""
        if tell_rooms:
            self.close_connections(proto_participant.ROOM_DELETED)
        self.deleted = True
        self.members.clear()
        self.sid = new_sid("RM")  # a room created again later under this name is a new room

    def restart_connection(self) -> None:
        """The agent's connection restarts, as seen on a real livekit-server restarted under
        a call: reconnecting, every participant reported gone with no reason, reconnected
        with nobody in the room. They come back seconds later with `rejoin()`."""
        self._away.update(self.members)
        for conn in self.live():
            signals.restarted(conn, self.members.values())

    def rejoin(self) -> None:
        """After `restart_connection`: the participants still there are announced again,
        each with a new participant sid and the attributes it first joined with (LiveKit's
        SIP service rejoins with those: an answered call's status says `ringing` again)."""
        for identity in sorted(self._away):
            member = self.members[identity]
            member.sid = new_sid("PA")
            member.attributes = dict(member.joined_with)
            for conn in self.live():
                signals.joined(conn, member)
        self._away.clear()

    def participants(self) -> dict[str, FakeParticipant]:
        """The server-side view of the remote participants (not the connected agents)."""
        return {identity: m.public() for identity, m in self.members.items()}

    def rooms(self) -> list[rtc.Room]:
        """The rtc.Room objects currently connected to this room."""
        return [room for conn in self.live() if (room := conn.rtc_room()) is not None]

    async def settle(self) -> None:
        """Return once every connected Room has processed every event injected so far
        (their synchronous callbacks included; tasks that callbacks spawn are not awaited)."""
        rooms = []
        for handle, conn in list(self.connections.items()):
            room = conn.rtc_room()
            if room is not None and listening(room):
                rooms.append(room)
            elif not conn.live:
                del self.connections[handle]  # ended and fully processed
        await processed(rooms)

    # -- used by the server ---------------------------------------------------------------

    def live(self) -> list[Connection]:
        return [c for c in self.connections.values() if c.live]

    def connect(
        self, local: Member, room: rtc.Room | None
    ) -> tuple[Connection, proto_room.ConnectCallback.Result]:
        """A Room connects as ``local``: its connection, and what its connect answer holds."""
        conn = Connection(
            handle=next(handle_ids),
            local_handle=next(handle_ids),
            local=local,
            room=weakref.ref(room) if room is not None else None,
        )
        self.connections[conn.handle] = conn
        info = proto_room.RoomInfo(
            sid=self.sid,
            name=self.name,
            metadata="",
            lossy_dc_buffered_amount_low_threshold=0,
            reliable_dc_buffered_amount_low_threshold=0,
            empty_timeout=300,
            departure_timeout=20,
            max_participants=0,
            creation_time=self.created_at * 1000,
            num_participants=len(self.members) + len(self.live()),
            num_publishers=0,
            active_recording=False,
        )
        result = proto_room.ConnectCallback.Result(
            room=proto_room.OwnedRoom(
                handle=proto_handle.FfiOwnedHandle(id=conn.handle), info=info
            ),
            local_participant=local.owned(conn.local_handle),
            participants=[
                proto_room.ConnectCallback.ParticipantWithTracks(
                    participant=m.owned(), publications=[m.publication(sid) for sid in m.tracks]
                )
                for m in self.members.values()
            ],
        )
        return conn, result

    def close_connections(self, reason: proto_participant.DisconnectReason.ValueType) -> None:
        """The server closes every connection to this room."""
        for conn in self.live():
            conn.live = False
            signals.closed(conn, reason)

    def _member(self, identity: str) -> Member:
        try:
            return self.members[identity]
        except KeyError:
            raise KeyError(f"{identity!r} is not in room {self.name!r}") from None
