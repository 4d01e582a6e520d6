"""A participant of the test's own in a call's room, publishing a tone: LiveKit answers an
inbound call only once someone publishes audio, and our worker publishes nothing."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from livekit import api, rtc

from .stack import Stack

SAMPLE_RATE = 48000
FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms


def token(stack: Stack, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=False)
    return (
        api.AccessToken(stack.api_key, stack.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


def tone_frame(n: int, hz: float = 440.0) -> rtc.AudioFrame:
    first = n * FRAME_SAMPLES
    data = bytearray()
    for i in range(first, first + FRAME_SAMPLES):
        value = int(3000 * math.sin(2 * math.pi * hz * i / SAMPLE_RATE))
        data += value.to_bytes(2, "little", signed=True)
    return rtc.AudioFrame(bytes(data), SAMPLE_RATE, 1, FRAME_SAMPLES)


class Guest:
    """Our participant in a room."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self._tasks: list[asyncio.Task[None]] = []

    async def publish_tone(self) -> None:
        """Publish a microphone track playing a tone until the guest leaves."""
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("tone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._tasks.append(asyncio.create_task(_play(source)))
        await self.room.local_participant.publish_track(track, options)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self.room.disconnect()


async def _play(source: rtc.AudioSource) -> None:
    try:
        n = 0
        while True:
            # capture_frame returns once the source's queue has room: real time, no sleeps.
            await source.capture_frame(tone_frame(n))
            n += 1
    finally:
        await source.aclose()


@asynccontextmanager
async def join(stack: Stack, room: str, identity: str = "live-test-guest") -> AsyncIterator[Guest]:
    """Join `room` as a participant of the test's own until the block ends."""
    lk_room = rtc.Room()
    options = rtc.RoomOptions(auto_subscribe=False)
    await lk_room.connect(stack.ws_url, token(stack, room, identity), options)
    guest = Guest(lk_room)
    try:
        yield guest
    finally:
        await guest.aclose()
