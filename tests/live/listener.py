"""A participant that subscribes to nothing, as our worker's agent is, writing down every fact the
room tells it, with the time it arrived: what a call-health sensor can know for free.

    async with listen(live_stack, room) as facts:
        await facts.wait_for(where(fact="attributes", **{"changed.lk.agent.state": "speaking"}))
        facts.timeline()     # every fact, `t` in seconds on the test's monotonic clock

Facts (`fact` field): `present` (someone already in the room when it joined), `joined`, `left`,
`attributes` (the changed ones), `published`, `unpublished`, `muted`, `unmuted`,
`speakers` (active-speaker updates), `text` (a text stream, read to its end: topic, sender,
attributes, text; `t` when it opened, `t_end` when it closed), `data` (data packets).
Each carries the participant's `identity` and `kind` (AGENT, SIP, STANDARD...).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from livekit import api, rtc

from .records import Predicate, Record, Records, where
from .stack import Stack

AGENT_STATE = "lk.agent.state"
AGENT_NAME = "lk.agent.name"
TEXT_TOPICS = ("lk.transcription", "lk.chat", "lk.agent.session")
"""The topics livekit-agents sends text streams on (transcriptions, chat, remote sessions)."""


def listener_token(stack: Stack, room: str, identity: str) -> str:
    """Joins as an agent (so a voice agent's RoomIO never takes it for the caller), may
    subscribe but subscribes to nothing (auto-subscribe off), publishes nothing: our worker."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=False, can_subscribe=True)
    return (
        api.AccessToken(stack.api_key, stack.api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_grants(grants)
        .to_jwt()
    )


def state_is(state: str) -> Predicate:
    """An agent's `lk.agent.state` changed to `state`."""
    return lambda r: r["fact"] == "attributes" and r["changed"].get(AGENT_STATE) == state


def listening_after(times: int, state: str) -> Predicate:
    """An agent back to `listening` after being in `state` `times` times (e.g. after its
    third time `speaking`); an agent's first state may be `listening` too."""
    seen = 0

    def predicate(record: Record) -> bool:
        nonlocal seen
        seen += state_is(state)(record)
        return seen >= times and state_is("listening")(record)

    return predicate


def _kind(participant: rtc.Participant) -> str:
    return str(rtc.ParticipantKind.Name(participant.kind)).removeprefix("PARTICIPANT_KIND_")


class Facts(Records):
    """The facts seen so far, in arrival order, and waits on the ones to come."""

    def __init__(self) -> None:
        super().__init__(lambda: "facts seen:\n" + "\n".join(map(str, self.timeline())))
        self.t0 = time.monotonic()
        self._readers: set[asyncio.Task[None]] = set()

    def note(self, fact: str, participant: rtc.Participant | None = None, **more: Any) -> Record:
        record: Record = {"fact": fact, "t": time.monotonic()}
        if participant is not None:
            record |= {"identity": participant.identity, "kind": _kind(participant)}
        record |= more
        self.add(record)
        return record

    def states(self, identity: str) -> list[tuple[float, str]]:
        """`identity`'s `lk.agent.state` changes after it joined: (t, state), in order."""
        return [
            (r["t"], r["changed"][AGENT_STATE])
            for r in self.all(where(fact="attributes", identity=identity))
            if AGENT_STATE in r["changed"]
        ]

    def timeline(self) -> list[Record]:
        """Every fact, `t` (and `t_end`) in seconds since the listener joined, rounded to ms."""
        return [_relative(r, self.t0) for r in self.all()]

    def watch_present(self, room: rtc.Room) -> None:
        """Who was in `room` when we joined (connecting fills the room without events)."""
        for participant in room.remote_participants.values():
            self.note("present", participant, attributes=dict(participant.attributes))
            for publication in participant.track_publications.values():
                self.note("published", participant, **_track(publication))

    def watch(self, room: rtc.Room) -> None:
        """Note every fact `room` reports from now on."""
        room.on(
            "participant_connected",
            lambda p: self.note("joined", p, attributes=dict(p.attributes)),
        )
        room.on("participant_disconnected", lambda p: self.note("left", p))
        room.on(
            "participant_attributes_changed",
            lambda changed, p: self.note("attributes", p, changed=dict(changed)),
        )
        room.on("track_published", lambda pub, p: self.note("published", p, **_track(pub)))
        room.on("track_unpublished", lambda pub, p: self.note("unpublished", p, **_track(pub)))
        room.on("track_muted", lambda p, pub: self.note("muted", p, **_track(pub)))
        room.on("track_unmuted", lambda p, pub: self.note("unmuted", p, **_track(pub)))
        room.on(
            "active_speakers_changed",
            lambda speakers: self.note("speakers", identities=[s.identity for s in speakers]),
        )
        room.on(
            "data_received",
            lambda packet: self.note("data", packet.participant, topic=packet.topic),
        )
        for topic in TEXT_TOPICS:
            room.register_text_stream_handler(topic, self._on_text)

    def _on_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        opened = time.monotonic()
        task = asyncio.create_task(self._read(reader, sender, opened))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, reader: rtc.TextStreamReader, sender: str, opened: float) -> None:
        text = await reader.read_all()
        info = reader.info
        self.add(
            {
                "fact": "text",
                "t": opened,
                "t_end": time.monotonic(),
                "identity": sender,
                "topic": info.topic,
                "attributes": dict(info.attributes or {}),
                "text": text,
            }
        )

    async def aclose(self) -> None:
        for task in list(self._readers):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self.close()


def _track(publication: rtc.TrackPublication) -> dict[str, Any]:
    return {
        "track": publication.sid,
        "source": str(rtc.TrackSource.Name(publication.source)).removeprefix("SOURCE_"),
        "muted": publication.muted,
    }


def _relative(record: Record, t0: float) -> Record:
    shifted = {k: round(v - t0, 3) for k, v in record.items() if k in ("t", "t_end")}
    return record | shifted


@asynccontextmanager
async def listen(
    stack: Stack, room: str, identity: str = "live-test-listener"
) -> AsyncIterator[Facts]:
    """Join `room` subscribing to nothing and write down what arrives, until the block ends."""
    lk_room = rtc.Room()
    facts = Facts()
    facts.watch(lk_room)
    await lk_room.connect(
        stack.ws_url,
        listener_token(stack, room, identity),
        rtc.RoomOptions(auto_subscribe=False),
    )
    facts.watch_present(lk_room)
    try:
        yield facts
    finally:
        await facts.aclose()
        await lk_room.disconnect()
