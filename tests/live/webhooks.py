"""livekit-server's webhooks, received on loopback: what the server itself says happened
(`participant_joined`, `participant_left`, `room_finished`, ...), the moment it happens.

Other participants learn that a participant who publishes nothing (our worker's agent)
joined or left only in the server's next batch of updates, up to 3 s later; its webhooks
come at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from livekit import api

from .records import Record, Records, where

HOST = "127.0.0.1"


class ServerEvents(Records):
    """Every webhook the server sent, verified and parsed as protobuf JSON field names
    (`{"event": "participant_left", "room": {"name": ...}, "participant": {...}}`)."""

    def __init__(self) -> None:
        super().__init__(lambda: f"webhooks received: {[r.get('event') for r in self.all()]}")
        self.url = ""
        """Where the server sends them (its `webhook.urls`)."""

    async def wait_for_event(
        self, event: str, room: str, timeout: float = 30.0, **fields: Any
    ) -> Record:
        """The first webhook `event` about `room` whose fields (dotted names look inside:
        `participant.kind="AGENT"`) have these values."""
        what = f"webhook {event} for room {room} with {fields}"
        return await self.wait_for(
            where(event=event, **{"room.name": room}, **fields), timeout, what
        )

    async def agent_left(self, room: str, timeout: float = 30.0) -> Record:
        """The worker's agent left `room`: its job ended, after every call event of the room
        reached every handler."""
        return await self.wait_for_event(
            "participant_left", room, timeout, **{"participant.kind": "AGENT"}
        )


@contextmanager
def receive_webhooks(api_key: str, api_secret: str) -> Iterator[ServerEvents]:
    """An HTTP server on a free loopback port that verifies and keeps the server's webhooks
    (signed with `api_key`) until the block ends."""
    receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
    events = ServerEvents()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                event = receiver.receive(body, self.headers.get("Authorization", ""))
            except Exception:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            events.add(json_format.MessageToDict(event, preserving_proto_field_name=True))

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test output is not the place for access logs."""

    server = ThreadingHTTPServer((HOST, 0), Handler)
    events.url = f"http://{HOST}:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, name="webhooks", daemon=True)
    thread.start()
    try:
        yield events
    finally:
        server.shutdown()
        server.server_close()
        events.close()
