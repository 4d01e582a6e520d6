"""The FFI requests a connected Room makes about itself, answered as a server would:
its local participant's attributes, metadata and name echoed back, publishes accepted."""

from __future__ import annotations

from typing import Any

from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._proto import room_pb2 as proto_room
from livekit.rtc._proto import rpc_pb2 as proto_rpc

from . import signals
from .ffi import async_ids, deliver, oneof
from .participants import Connection

_LOCAL_UPDATES: dict[str, tuple[Any, Any]] = {
    "set_local_attributes": (
        proto_room.SetLocalAttributesCallback,
        proto_room.SetLocalAttributesResponse,
    ),
    "set_local_metadata": (
        proto_room.SetLocalMetadataCallback,
        proto_room.SetLocalMetadataResponse,
    ),
    "set_local_name": (proto_room.SetLocalNameCallback, proto_room.SetLocalNameResponse),
}
LOCAL_UPDATES = frozenset(_LOCAL_UPDATES)

_PUBLISHES: dict[str, tuple[Any, Any]] = {
    "publish_sip_dtmf": (proto_room.PublishSipDtmfCallback, proto_room.PublishSipDtmfResponse),
    "publish_data": (proto_room.PublishDataCallback, proto_room.PublishDataResponse),
}
PUBLISHES = frozenset(_PUBLISHES)

NOOPS = frozenset(
    {"register_rpc_method", "unregister_rpc_method", "set_track_subscription_permissions"}
)
"""Requests with an empty, synchronous answer."""


def _answered(which: str, kinds: tuple[Any, Any], async_id: int) -> proto_ffi.FfiResponse:
    """The callback event for an async request, delivered, and its immediate response."""
    callback, response = kinds
    deliver(oneof(proto_ffi.FfiEvent(), which, callback(async_id=async_id)))
    return oneof(proto_ffi.FfiResponse(), which, response(async_id=async_id))


def local_update(conn: Connection | None, req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
    """set_local_attributes / _metadata / _name: echoed to the Room like a server does."""
    which = str(req.WhichOneof("message"))
    msg = getattr(req, which)
    if conn is not None and conn.live:
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
                signals.attributes_changed(conn, local, changed)
        elif which == "set_local_metadata":
            local.metadata = msg.metadata
            signals.local_metadata(conn, msg.metadata)
        else:
            local.name = msg.name
            signals.local_name(conn, msg.name)
    return _answered(which, _LOCAL_UPDATES[which], msg.request_async_id or next(async_ids))


def publish(req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
    """publish_sip_dtmf / publish_data succeed; nobody else is there to receive them."""
    which = str(req.WhichOneof("message"))
    msg = getattr(req, which)
    return _answered(which, _PUBLISHES[which], msg.request_async_id or next(async_ids))


UNSUPPORTED_METHOD = 1400
"""livekit's RpcError code for a method the destination did not register."""


def perform_rpc(req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
    """No participant of the stand-in registers RPC methods (as a SIP service without
    `lk.sip.EndCall`): every call is answered "Method not supported at destination"."""
    async_id = req.perform_rpc.request_async_id or next(async_ids)
    error = proto_rpc.RpcError(
        code=UNSUPPORTED_METHOD, message="Method not supported at destination"
    )
    deliver(
        oneof(
            proto_ffi.FfiEvent(),
            "perform_rpc",
            proto_rpc.PerformRpcCallback(async_id=async_id, error=error),
        )
    )
    return oneof(
        proto_ffi.FfiResponse(), "perform_rpc", proto_rpc.PerformRpcResponse(async_id=async_id)
    )


def noop(req: proto_ffi.FfiRequest) -> proto_ffi.FfiResponse:
    which = str(req.WhichOneof("message"))
    response_type = type(getattr(proto_ffi.FfiResponse(), which))
    return oneof(proto_ffi.FfiResponse(), which, response_type())
