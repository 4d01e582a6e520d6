"""An in-process stand-in for a LiveKit server, seen from the Python SDK.

A real ``livekit.rtc.Room`` runs unchanged: the native FFI library is loaded, but the FFI
client's ``request`` is answered here, and room events are serialised ``FfiEvent`` bytes fed
through the SDK's genuine C callback, so they travel FFI queue -> the room's listen task ->
``Room._on_room_event`` -> public events, exactly like events from a server.

Private SDK names used (checked against livekit 1.1.21): ``FfiClient.instance``,
``FfiClient.request`` (shadowed on the instance), ``FfiClient._ffi_lib`` (its
``livekit_ffi_drop_handle``), ``_ffi_client.ffi_event_callback``, ``_ffi_client._live_handles``,
``FfiHandle.mark_consumed``, ``Room._task``, ``Room._room_queue``, ``Room._loop`` and
``Room._ffi_queue``.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import secrets
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import jwt
from google.protobuf.message import Message
from jwt.warnings import InsecureKeyLengthWarning
from livekit import api, rtc
from livekit.rtc import _ffi_client
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._proto import handle_pb2 as proto_handle
from livekit.rtc._proto import participant_pb2 as proto_participant
from livekit.rtc._proto import room_pb2 as proto_room
from livekit.rtc._proto import track_pb2 as proto_track

from .. import dtmf

__all__ = ["FakeLiveKit", "FakeParticipant", "FakeRoom", "dtmf_code"]

# Fake ids live far above the native counters (which start at 1), so they never collide
# with a real handle or async id created by native requests made while installed.
_FAKE_HANDLE_BASE = 1 << 52
_FAKE_ASYNC_BASE = 1 << 53
_handle_ids = itertools.count(_FAKE_HANDLE_BASE)
_async_ids = itertools.count(_FAKE_ASYNC_BASE)


_TOKEN_KINDS = {
    "standard": proto_participant.PARTICIPANT_KIND_STANDARD,
    "ingress": proto_participant.PARTICIPANT_KIND_INGRESS,
    "egress": proto_participant.PARTICIPANT_KIND_EGRESS,
    "sip": proto_participant.PARTICIPANT_KIND_SIP,
    "agent": proto_participant.PARTICIPANT_KIND_AGENT,
    "connector": proto_participant.PARTICIPANT_KIND_CONNECTOR,
    "bridge": proto_participant.PARTICIPANT_KIND_BRIDGE,
}

_installed: FakeLiveKit | None = None


def dtmf_code(digit: str) -> int:
    """The RFC 4733 event code of a DTMF digit (0-9, * = 10, # = 11, A-D = 12-15)."""
    try:
        return dtmf.CODES[digit.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF digit: {digit!r}") from None


def _sid(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def _deliver(event: proto_ffi.FfiEvent) -> None:
    """Feed an event through the SDK's genuine C callback, as the native library would."""
    data = event.SerializeToString()  # raises if a required field was left out
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    _ffi_client.ffi_event_callback(buf, len(data))


_M = TypeVar("_M", proto_ffi.FfiEvent, proto_ffi.FfiResponse)


def _oneof(container: _M, which: str, value: Message) -> _M:
    """Set the ``which`` member of an FfiEvent/FfiResponse oneof to ``value``."""
    getattr(container, which).CopyFrom(value)
    return container


def _room_event(handle: int, **message: Any) -> proto_ffi.FfiEvent:
    return proto_ffi.FfiEvent(room_event=proto_room.RoomEvent(room_handle=handle, **message))


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
class _Member:
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


@dataclass
class _Connection:
    """One rtc.Room connected to a FakeRoom: its fake room handle and local participant."""

    handle: int
    local_handle: int
    local: _Member
    room: weakref.ReferenceType[rtc.Room] | None
    live: bool = True


class FakeRoom:
    """A server-side room: holds participants and pushes their changes to connected Rooms."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sid = _sid("RM")
        self.created_at = int(time.time())
        self._members: dict[str, _Member] = {}
        self._connections: dict[int, _Connection] = {}
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
        if identity in self._members:
            raise ValueError(f"{identity!r} is already in room {self.name!r}")
        self.deleted = False  # a call into a deleted room's name creates it again
        try:
            kind_value = proto_participant.ParticipantKind.Value(f"PARTICIPANT_KIND_{kind}")
        except ValueError:
            raise ValueError(f"unknown participant kind {kind!r}") from None
        member = _Member(
            identity=identity,
            sid=_sid("PA"),
            kind=kind_value,
            name=name,
            attributes=dict(attributes or {}),
            active=active,
            joined_with=dict(attributes or {}),
        )
        self._members[identity] = member
        for conn in self._live():
            self._announce(conn, member)

    def activate(self, identity: str) -> None:
        """A participant that joined with ``active=False`` becomes active (media flowing)."""
        member = self._member(identity)
        if member.active:
            return
        member.active = True
        for conn in self._live():
            _deliver(
                _room_event(
                    conn.handle,
                    participant_active=proto_room.ParticipantActive(participant_identity=identity),
                )
            )

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
        for conn in self._live():
            self._send_attributes(conn, member, changed)

    def dtmf(self, identity: str, digit: str, code: int | None = None) -> None:
        """The participant sends a DTMF digit (SIP INFO / RFC 4733), seen as sip_dtmf_received."""
        self._member(identity)
        sip_dtmf = proto_room.SipDTMF(code=dtmf_code(digit) if code is None else code, digit=digit)
        for conn in self._live():
            _deliver(
                _room_event(
                    conn.handle,
                    data_packet_received=proto_room.DataPacketReceived(
                        kind=proto_room.KIND_RELIABLE,
                        participant_identity=identity,
                        sip_dtmf=sip_dtmf,
                    ),
                )
            )

    def leave(self, identity: str, reason: str = "CLIENT_INITIATED") -> None:
        """The participant leaves with a DisconnectReason given by name (USER_REJECTED, ...)."""
        try:
            reason_value = proto_participant.DisconnectReason.Value(reason)
        except ValueError:
            raise ValueError(f"unknown disconnect reason {reason!r}") from None
        self._member(identity)
        del self._members[identity]
        if identity in self._away:
            self._away.discard(identity)  # gone while the agent could not see it
            return
        for conn in self._live():
            self._send_disconnected(conn, identity, reason_value)

    def delete(self, *, tell_rooms: bool = True) -> None:
        """DeleteRoom: Rooms get disconnected(ROOM_DELETED), no participant_disconnected.

        `tell_rooms=False`: the room is gone on the server, but the agents' Rooms have not
        processed their disconnect yet, as when LiveKit's job termination overtakes it
        (seen on a real server); whatever the job does next decides what they see."""
        if tell_rooms:
            self._end_connections(proto_participant.ROOM_DELETED)
        self.deleted = True
        self._members.clear()
        self.sid = _sid("RM")  # a room created again later under this name is a new room

    def restart_connection(self) -> None:
        """The agent's connection restarts, as seen on a real livekit-server restarted under
        a call: reconnecting, every participant reported gone with no reason, reconnected
        with nobody in the room. They come back seconds later with `rejoin()`."""
        self._away.update(self._members)
        for conn in self._live():
            send = conn.handle
            _deliver(
                _room_event(
                    send,
                    connection_state_changed=proto_room.ConnectionStateChanged(
                        state=proto_room.CONN_RECONNECTING
                    ),
                )
            )
            _deliver(_room_event(send, reconnecting=proto_room.Reconnecting()))
            for member in self._members.values():
                self._send_disconnected(conn, member.identity, proto_participant.UNKNOWN_REASON)
            _deliver(
                _room_event(
                    send,
                    connection_state_changed=proto_room.ConnectionStateChanged(
                        state=proto_room.CONN_CONNECTED
                    ),
                )
            )
            _deliver(_room_event(send, reconnected=proto_room.Reconnected()))

    def rejoin(self) -> None:
        """After `restart_connection`: the participants still there are announced again,
        each with a new participant sid and the attributes it first joined with (LiveKit's
        SIP service rejoins with those: an answered call's status says `ringing` again)."""
        for identity in sorted(self._away):
            member = self._members[identity]
            member.sid = _sid("PA")
            member.attributes = dict(member.joined_with)
            for conn in self._live():
                self._announce(conn, member)
        self._away.clear()

    def participants(self) -> dict[str, FakeParticipant]:
        """The server-side view of the remote participants (not the connected agents)."""
        return {
            identity: FakeParticipant(
                identity=m.identity,
                sid=m.sid,
                kind=proto_participant.ParticipantKind.Name(m.kind).removeprefix(
                    "PARTICIPANT_KIND_"
                ),
                name=m.name,
                attributes=dict(m.attributes),
                active=m.active,
                joined_at=m.joined_at,
            )
            for identity, m in self._members.items()
        }

    def rooms(self) -> list[rtc.Room]:
        """The rtc.Room objects currently connected to this room."""
        rooms = []
        for conn in self._live():
            room = conn.room() if conn.room is not None else None
            if room is not None:
                rooms.append(room)
        return rooms

    async def settle(self) -> None:
        """Return once every connected Room has processed every event injected so far.

        A marker event goes through the FFI queue after them; each Room's listen task hands
        every event it finished to its ``_room_queue``, so seeing the marker there means all
        earlier events (and their synchronous callbacks) are done. Tasks that callbacks spawn
        are not awaited.
        """
        marker_id = next(_async_ids)
        waits = []
        for handle, conn in list(self._connections.items()):
            room = conn.room() if conn.room is not None else None
            task: asyncio.Task[None] | None = getattr(room, "_task", None)
            if room is None or task is None or task.done():
                if not conn.live:
                    del self._connections[handle]  # ended and fully processed
                continue
            # subscribe before the marker is sent, so it cannot be missed
            queue = room._room_queue.subscribe()
            waits.append(_wait_marker(room, queue, task, marker_id))
        if not waits:
            return
        _deliver(proto_ffi.FfiEvent(get_stats=proto_track.GetStatsCallback(async_id=marker_id)))
        await asyncio.gather(*waits)

    # -- used by FakeLiveKit --------------------------------------------------------------

    def _live(self) -> list[_Connection]:
        return [c for c in self._connections.values() if c.live]

    def _member(self, identity: str) -> _Member:
        try:
            return self._members[identity]
        except KeyError:
            raise KeyError(f"{identity!r} is not in room {self.name!r}") from None

    def _announce(self, conn: _Connection, member: _Member) -> None:
        connected = _Member(**{**member.__dict__, "active": False})
        _deliver(
            _room_event(
                conn.handle,
                participant_connected=proto_room.ParticipantConnected(info=connected.owned()),
            )
        )
        if member.active:
            _deliver(
                _room_event(
                    conn.handle,
                    participant_active=proto_room.ParticipantActive(
                        participant_identity=member.identity
                    ),
                )
            )

    @staticmethod
    def _send_attributes(conn: _Connection, member: _Member, changed: dict[str, str]) -> None:
        _deliver(
            _room_event(
                conn.handle,
                participant_attributes_changed=proto_room.ParticipantAttributesChanged(
                    participant_identity=member.identity,
                    attributes=[
                        proto_room.AttributesEntry(key=k, value=v)
                        for k, v in member.attributes.items()
                    ],
                    changed_attributes=[
                        proto_room.AttributesEntry(key=k, value=v) for k, v in changed.items()
                    ],
                ),
            )
        )

    @staticmethod
    def _send_disconnected(
        conn: _Connection, identity: str, reason: proto_participant.DisconnectReason.ValueType
    ) -> None:
        _deliver(
            _room_event(
                conn.handle,
                participant_disconnected=proto_room.ParticipantDisconnected(
                    participant_identity=identity, disconnect_reason=reason
                ),
            )
        )

    def _connect(
        self, local: _Member, room: rtc.Room | None
    ) -> tuple[_Connection, proto_room.ConnectCallback.Result]:
        conn = _Connection(
            handle=next(_handle_ids),
            local_handle=next(_handle_ids),
            local=local,
            room=weakref.ref(room) if room is not None else None,
        )
        self._connections[conn.handle] = conn
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
            num_participants=len(self._members) + len(self._live()),
            num_publishers=0,
            active_recording=False,
        )
        result = proto_room.ConnectCallback.Result(
            room=proto_room.OwnedRoom(
                handle=proto_handle.FfiOwnedHandle(id=conn.handle), info=info
            ),
            local_participant=local.owned(conn.local_handle),
            participants=[
                proto_room.ConnectCallback.ParticipantWithTracks(participant=m.owned())
                for m in self._members.values()
            ],
        )
        return conn, result

    def _end_connections(self, reason: proto_participant.DisconnectReason.ValueType) -> None:
        """The server closes every connection: state change, disconnected, then end of stream."""
        for conn in self._live():
            conn.live = False
            _deliver(
                _room_event(
                    conn.handle,
                    connection_state_changed=proto_room.ConnectionStateChanged(
                        state=proto_room.CONN_DISCONNECTED
                    ),
                )
            )
            _deliver(_room_event(conn.handle, disconnected=proto_room.Disconnected(reason=reason)))
            _deliver(_room_event(conn.handle, eos=proto_room.RoomEOS()))


async def _wait_marker(room: rtc.Room, queue: Any, task: Any, marker_id: int) -> None:
    """Wait until ``room``'s listen task passed the marker on, or ended (end of stream)."""

    async def see_marker() -> None:
        while True:
            event = await queue.get()
            queue.task_done()  # the listen task joins this queue after every event
            if event.WhichOneof("message") == "get_stats" and event.get_stats.async_id == marker_id:
                return

    seen = asyncio.ensure_future(see_marker())
    try:
        await asyncio.wait({seen, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        seen.cancel()
        room._room_queue.unsubscribe(queue)


class FakeLiveKit:
    """Stands where a LiveKit server would, for every rtc.Room in this process."""

    def __init__(self, *, api_key: str = "devkey", api_secret: str = "secret") -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self._rooms: dict[str, FakeRoom] = {}
        self._fake_handles: set[int] = set()
        self._ffi: _ffi_client.FfiClient | None = None
        self._original_drop: Callable[[Any], bool] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def install(self) -> None:
        """Route this process's rtc.Room FFI traffic to this fake until uninstall()."""
        global _installed
        if _installed is not None:
            raise RuntimeError("a FakeLiveKit is already installed in this process")
        ffi = _ffi_client.FfiClient.instance  # loads the real native library once per process
        lib = ffi._ffi_lib
        self._original_drop = lib.livekit_ffi_drop_handle
        # FfiHandle.dispose drops non-zero handles natively: fake ones must not get there
        setattr(lib, "livekit_ffi_drop_handle", self._drop_handle)  # noqa: B010
        ffi.request = self._request
        self._ffi = ffi
        _installed = self

    def uninstall(self) -> None:
        """Close Rooms still connected (as a server shutdown would) and restore the SDK."""
        global _installed
        ffi = self._ffi
        if ffi is None:
            return
        for fake_room in self._rooms.values():
            for conn in fake_room._live():
                room = conn.room() if conn.room is not None else None
                if room is not None and room._loop.is_closed():
                    # nobody can process its events any more: stop feeding its queue
                    conn.live = False
                    ffi.queue.unsubscribe(room._ffi_queue)
            fake_room._end_connections(proto_participant.SERVER_SHUTDOWN)
        # handles still alive must never reach the native drop once it is restored
        for handle in list(_ffi_client._live_handles):
            if handle.handle in self._fake_handles:
                handle.mark_consumed()
        del ffi.request
        setattr(ffi._ffi_lib, "livekit_ffi_drop_handle", self._original_drop)  # noqa: B010
        self._ffi = None
        _installed = None

    def __enter__(self) -> FakeLiveKit:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def existing(self, names: Iterable[str]) -> list[FakeRoom]:
        """The named rooms the server has (as ListRooms shows): not deleted, and someone in
        them or connected."""
        rooms = (self._rooms.get(name) for name in names)
        return [r for r in rooms if r is not None and not r.deleted and (r._members or r._live())]

    def room(self, name: str) -> FakeRoom:
        """The server-side room of that name, created on first use (as a join would)."""
        if name not in self._rooms:
            self._rooms[name] = FakeRoom(name)
        return self._rooms[name]

    def token(
        self,
        room: str,
        identity: str,
        *,
        kind: str = "standard",
        agent: bool = False,
        attributes: Mapping[str, str] | None = None,
        name: str = "",
    ) -> str:
        """A join token for ``room`` signed with this server's key (as a token server would)."""
        token = (
            api.AccessToken(self.api_key, self.api_secret)
            .with_identity(identity)
            .with_kind(kind)  # type: ignore[arg-type]
            .with_grants(
                api.VideoGrants(
                    room_join=True, room=room, agent=agent, can_update_own_metadata=True
                )
            )
        )
        if attributes:
            token = token.with_attributes(dict(attributes))
        if name:
            token = token.with_name(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return token.to_jwt()

    # -- the FFI side ---------------------------------------------------------------------

    def _drop_handle(self, handle: ctypes.c_uint64) -> bool:
        value = handle.value if isinstance(handle, ctypes.c_uint64) else int(handle)
        if value in self._fake_handles:
            return True
        assert self._original_drop is not None
        return self._original_drop(handle)

    def _connection(self, handle: int) -> tuple[FakeRoom, _Connection] | None:
        for fake_room in self._rooms.values():
            conn = fake_room._connections.get(handle)
            if conn is not None:
                return fake_room, conn
        return None

    def _local_connection(self, handle: int) -> tuple[FakeRoom, _Connection] | None:
        for fake_room in self._rooms.values():
            for conn in fake_room._connections.values():
                if conn.local_handle == handle:
                    return fake_room, conn
        return None

    def _request(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        which = req.WhichOneof("message")
        handler = _HANDLERS.get(which or "")
        if handler is not None:
            return handler(self, req)
        msg = getattr(req, which) if which else None
        for name in ("room_handle", "local_participant_handle"):
            if (
                msg is not None
                and name in msg.DESCRIPTOR.fields_by_name
                and getattr(msg, name) in self._fake_handles
            ):
                raise RuntimeError(
                    f"FakeLiveKit does not support the FFI request {which!r} "
                    "(extend agent/testing/livekit_room.py if a test needs it)"
                )
        # not about a fake room (audio resampler, ...): the real native library answers
        assert self._ffi is not None
        return type(self._ffi).request(self._ffi, req)

    def _on_connect(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        async_id = req.connect.request_async_id or next(_async_ids)
        room = _calling_room()
        try:
            with warnings.catch_warnings():
                # test secrets are short; a real server accepts them too
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims = jwt.decode(
                    req.connect.token,
                    self.api_secret,
                    algorithms=["HS256"],
                    options={"verify_aud": False},
                )
            if claims.get("iss") != self.api_key:
                raise jwt.InvalidIssuerError(f"unknown API key {claims.get('iss')!r}")
            video = claims.get("video") or {}
            if not video.get("roomJoin") or not video.get("room"):
                raise jwt.InvalidTokenError("token has no roomJoin grant for a room")
            identity = str(claims.get("sub") or "")
            if not identity:
                raise jwt.InvalidTokenError("token has no identity")
        except jwt.PyJWTError as e:
            _deliver(
                proto_ffi.FfiEvent(
                    connect=proto_room.ConnectCallback(
                        async_id=async_id, error=f"could not connect: invalid token: {e}"
                    )
                )
            )
            return proto_ffi.FfiResponse(connect=proto_room.ConnectResponse(async_id=async_id))

        fake_room = self.room(str(video["room"]))
        kind = _TOKEN_KINDS.get(str(claims.get("kind") or ""))
        if kind is None:
            kind = (
                proto_participant.PARTICIPANT_KIND_AGENT
                if video.get("agent")
                else proto_participant.PARTICIPANT_KIND_STANDARD
            )
        local = _Member(
            identity=identity,
            sid=_sid("PA"),
            kind=kind,
            name=str(claims.get("name") or ""),
            attributes={str(k): str(v) for k, v in (claims.get("attributes") or {}).items()},
            active=True,
            metadata=str(claims.get("metadata") or ""),
        )
        conn, result = fake_room._connect(local, room)
        self._fake_handles.update((conn.handle, conn.local_handle))
        _deliver(
            proto_ffi.FfiEvent(connect=proto_room.ConnectCallback(async_id=async_id, result=result))
        )
        return proto_ffi.FfiResponse(connect=proto_room.ConnectResponse(async_id=async_id))

    def _on_ready(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        return proto_ffi.FfiResponse(ready_for_room_event=proto_room.ReadyForRoomEventResponse())

    def _on_disconnect(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        async_id = req.disconnect.request_async_id or next(_async_ids)
        found = self._connection(req.disconnect.room_handle)
        if found is not None:
            fake_room, conn = found
            if conn.live:
                conn.live = False
                _deliver(_room_event(conn.handle, eos=proto_room.RoomEOS()))
            del fake_room._connections[conn.handle]
        _deliver(proto_ffi.FfiEvent(disconnect=proto_room.DisconnectCallback(async_id=async_id)))
        return proto_ffi.FfiResponse(disconnect=proto_room.DisconnectResponse(async_id=async_id))

    def _on_local_update(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        """set_local_attributes / _metadata / _name: echoed to the Room like a server does."""
        which = req.WhichOneof("message")
        assert which is not None
        msg = getattr(req, which)
        async_id = msg.request_async_id or next(_async_ids)
        found = self._local_connection(msg.local_participant_handle)
        if found is not None and found[1].live:
            _, conn = found
            local = conn.local
            if which == "set_local_attributes":
                # the server merges: listed keys are set, an empty value deletes the key
                changed = {}
                for entry in msg.attributes:
                    if entry.value == "":
                        if local.attributes.pop(entry.key, None) is not None:
                            changed[entry.key] = ""
                    elif local.attributes.get(entry.key) != entry.value:
                        local.attributes[entry.key] = entry.value
                        changed[entry.key] = entry.value
                if changed:
                    FakeRoom._send_attributes(conn, local, changed)
            elif which == "set_local_metadata":
                local.metadata = msg.metadata
                _deliver(
                    _room_event(
                        conn.handle,
                        participant_metadata_changed=proto_room.ParticipantMetadataChanged(
                            participant_identity=local.identity, metadata=msg.metadata
                        ),
                    )
                )
            else:
                local.name = msg.name
                _deliver(
                    _room_event(
                        conn.handle,
                        participant_name_changed=proto_room.ParticipantNameChanged(
                            participant_identity=local.identity, name=msg.name
                        ),
                    )
                )
        callbacks = {
            "set_local_attributes": proto_room.SetLocalAttributesCallback,
            "set_local_metadata": proto_room.SetLocalMetadataCallback,
            "set_local_name": proto_room.SetLocalNameCallback,
        }
        responses = {
            "set_local_attributes": proto_room.SetLocalAttributesResponse,
            "set_local_metadata": proto_room.SetLocalMetadataResponse,
            "set_local_name": proto_room.SetLocalNameResponse,
        }
        _deliver(_oneof(proto_ffi.FfiEvent(), which, callbacks[which](async_id=async_id)))
        return _oneof(proto_ffi.FfiResponse(), which, responses[which](async_id=async_id))

    def _on_publish(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        """publish_sip_dtmf / publish_data succeed; nobody else is there to receive them."""
        which = req.WhichOneof("message")
        assert which is not None
        msg = getattr(req, which)
        async_id = msg.request_async_id or next(_async_ids)
        if which == "publish_sip_dtmf":
            cb: Any = proto_room.PublishSipDtmfCallback(async_id=async_id)
            resp: Any = proto_room.PublishSipDtmfResponse(async_id=async_id)
        else:
            cb = proto_room.PublishDataCallback(async_id=async_id)
            resp = proto_room.PublishDataResponse(async_id=async_id)
        _deliver(_oneof(proto_ffi.FfiEvent(), which, cb))
        return _oneof(proto_ffi.FfiResponse(), which, resp)

    def _on_noop(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        """Requests with an empty, synchronous answer (RPC method registration, ...)."""
        which = req.WhichOneof("message")
        assert which is not None
        response_type = type(getattr(proto_ffi.FfiResponse(), which))
        return _oneof(proto_ffi.FfiResponse(), which, response_type())


_HANDLERS: dict[str, Callable[[FakeLiveKit, proto_ffi.FfiRequest], proto_ffi.FfiResponse]] = {
    "connect": FakeLiveKit._on_connect,
    "ready_for_room_event": FakeLiveKit._on_ready,
    "disconnect": FakeLiveKit._on_disconnect,
    "set_local_attributes": FakeLiveKit._on_local_update,
    "set_local_metadata": FakeLiveKit._on_local_update,
    "set_local_name": FakeLiveKit._on_local_update,
    "publish_sip_dtmf": FakeLiveKit._on_publish,
    "publish_data": FakeLiveKit._on_publish,
    "register_rpc_method": FakeLiveKit._on_noop,
    "unregister_rpc_method": FakeLiveKit._on_noop,
    "set_track_subscription_permissions": FakeLiveKit._on_noop,
}


def _calling_room() -> rtc.Room | None:
    """The rtc.Room whose connect() made the current FFI request (found on the stack)."""
    frame = sys._getframe(1)
    for _ in range(8):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, rtc.Room):
            return candidate
        if frame.f_back is None:
            break
        frame = frame.f_back
    return None
