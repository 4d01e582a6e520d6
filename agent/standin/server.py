"""`FakeLiveKit`: stands where a LiveKit server would, for every rtc.Room in this process.

A real ``livekit.rtc.Room`` runs unchanged: the native FFI library is loaded, but the FFI
client's ``request`` is answered here (connect, disconnect, the Room's requests about itself)
and room events go back through the SDK's genuine callback (`ffi`).

Private SDK names used (checked against livekit 1.1.21): ``FfiClient.instance``,
``FfiClient.request`` (shadowed on the instance), ``FfiClient._ffi_lib`` (its
``livekit_ffi_drop_handle``), ``_ffi_client._live_handles``, ``FfiHandle.mark_consumed``,
``Room._loop`` and ``Room._ffi_queue``.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from livekit import api
from livekit.rtc import _ffi_client
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._proto import participant_pb2 as proto_participant
from livekit.rtc._proto import room_pb2 as proto_room

from . import local_requests
from .ffi import async_ids, calling_room, deliver, send
from .participants import Connection
from .room import FakeRoom
from .tokens import joining

_installed: FakeLiveKit | None = None


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
            for conn in fake_room.live():
                room = conn.rtc_room()
                if room is not None and room._loop.is_closed():
                    # nobody can process its events any more: stop feeding its queue
                    conn.live = False
                    ffi.queue.unsubscribe(room._ffi_queue)
            fake_room.close_connections(proto_participant.SERVER_SHUTDOWN)
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

    # -- the server's rooms ---------------------------------------------------------------

    def existing(self, names: Iterable[str]) -> list[FakeRoom]:
        """The named rooms the server has (as ListRooms shows): not deleted, and someone in
        them or connected."""
        rooms = (self._rooms.get(name) for name in names)
        return [r for r in rooms if r is not None and not r.deleted and (r.members or r.live())]

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

    def _connection(self, handle: int, *, local: bool = False) -> tuple[FakeRoom, Connection]:
        """The connection a request is about, by its room handle (or local participant's)."""
        for fake_room in self._rooms.values():
            for conn in fake_room.connections.values():
                if (conn.local_handle if local else conn.handle) == handle:
                    return fake_room, conn
        raise LookupError(handle)

    def _request(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        which = req.WhichOneof("message") or ""
        msg: Any = getattr(req, which) if which else None
        if which == "connect":
            return self._on_connect(req)
        if which == "disconnect":
            return self._on_disconnect(req)
        if which == "ready_for_room_event":
            return proto_ffi.FfiResponse(
                ready_for_room_event=proto_room.ReadyForRoomEventResponse()
            )
        if which in local_requests.LOCAL_UPDATES:
            try:
                _, conn = self._connection(msg.local_participant_handle, local=True)
            except LookupError:
                return local_requests.local_update(None, req)
            return local_requests.local_update(conn, req)
        if which in local_requests.PUBLISHES:
            return local_requests.publish(req)
        if which in local_requests.NOOPS:
            return local_requests.noop(req)
        if which == "perform_rpc":
            return local_requests.perform_rpc(req)
        for name in ("room_handle", "local_participant_handle"):
            if (
                msg is not None
                and name in msg.DESCRIPTOR.fields_by_name
                and getattr(msg, name) in self._fake_handles
            ):
                raise RuntimeError(
                    f"FakeLiveKit does not support the FFI request {which!r} "
                    "(extend agent/standin/local_requests.py if a test needs it)"
                )
        # not about a fake room (audio resampler, ...): the real native library answers
        assert self._ffi is not None
        return type(self._ffi).request(self._ffi, req)

    def _on_connect(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        async_id = req.connect.request_async_id or next(async_ids)
        room = calling_room()
        try:
            room_name, local = joining(req.connect.token, self.api_key, self.api_secret)
        except jwt.PyJWTError as e:
            callback = proto_room.ConnectCallback(
                async_id=async_id, error=f"could not connect: invalid token: {e}"
            )
        else:
            conn, result = self.room(room_name).connect(local, room)
            self._fake_handles.update((conn.handle, conn.local_handle))
            callback = proto_room.ConnectCallback(async_id=async_id, result=result)
        deliver(proto_ffi.FfiEvent(connect=callback))
        return proto_ffi.FfiResponse(connect=proto_room.ConnectResponse(async_id=async_id))

    def _on_disconnect(self, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
        async_id = req.disconnect.request_async_id or next(async_ids)
        try:
            fake_room, conn = self._connection(req.disconnect.room_handle)
        except LookupError:
            pass  # already gone
        else:
            if conn.live:
                conn.live = False
                send(conn.handle, eos=proto_room.RoomEOS())
            del fake_room.connections[conn.handle]
        deliver(proto_ffi.FfiEvent(disconnect=proto_room.DisconnectCallback(async_id=async_id)))
        return proto_ffi.FfiResponse(disconnect=proto_room.DisconnectResponse(async_id=async_id))
