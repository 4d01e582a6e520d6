"""The Twirp stand-in answers the real livekit-api client as LiveKit does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api

from agent.standin import Delay, TwirpServer, server_error, sip_error

KEY, SECRET = "devkey", "secret-of-at-least-32-bytes-for-hs256"


@pytest.fixture
async def server() -> AsyncIterator[TwirpServer]:
    async with TwirpServer(KEY, SECRET) as twirp:
        yield twirp


@pytest.fixture
async def client(server: TwirpServer) -> AsyncIterator[api.LiveKitAPI]:
    lk = api.LiveKitAPI(server.url, KEY, SECRET)
    yield lk
    await lk.aclose()


async def test_records_exact_requests(server: TwirpServer, client: api.LiveKitAPI) -> None:
    """Each call arrives as protobuf, recorded as JSON with the grants it was signed with."""
    await client.room.remove_participant(api.RoomParticipantIdentity(room="r1", identity="c1"))
    await client.sip.transfer_sip_participant(
        api.TransferSIPParticipantRequest(
            room_name="r1", participant_identity="c1", transfer_to="tel:+15551230000"
        )
    )
    await client.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name="support", room="r1", metadata="{}")
    )
    assert [r.method for r in server.requests] == [
        "RoomService/RemoveParticipant",
        "SIP/TransferSIPParticipant",
        "AgentDispatchService/CreateDispatch",
    ]
    assert server.sent("RoomService/RemoveParticipant") == [{"room": "r1", "identity": "c1"}]
    assert server.sent("SIP/TransferSIPParticipant") == [
        {
            "room_name": "r1",
            "participant_identity": "c1",
            "transfer_to": "tel:+15551230000",
            "ringing_timeout": "30s",
        }
    ]
    transfer = server.requests[1]
    assert transfer.content_type == "application/protobuf"
    assert transfer.claims["video"] == {"roomAdmin": True, "room": "r1"} | {
        k: v for k, v in transfer.claims["video"].items() if k.startswith("can")
    }
    assert transfer.claims["sip"]["call"] is True


async def test_sip_failure_becomes_sip_call_error(
    server: TwirpServer, client: api.LiveKitAPI
) -> None:
    """A scripted 486 reaches the client as SipCallError with the SIP status code."""
    server.script("SIP/CreateSIPParticipant", sip_error(486))
    request = api.CreateSIPParticipantRequest(
        room_name="r1", sip_trunk_id="ST_1", sip_call_to="+15550001111", participant_identity="o"
    )
    with pytest.raises(api.SipCallError) as caught:
        await client.sip.create_sip_participant(request)
    assert (caught.value.sip_status_code, caught.value.sip_status) == (486, "Busy Here")


async def test_server_error_and_delay(server: TwirpServer, client: api.LiveKitAPI) -> None:
    """5xx comes back as ServerError with its status; a delay outlasts a short timeout."""
    server.script("RoomService/DeleteRoom", server_error(503), Delay(1.0))
    with pytest.raises(api.ServerError) as caught:
        await client.room.delete_room(api.DeleteRoomRequest(room="r1"))
    assert (caught.value.status, caught.value.code) == (503, "unavailable")
    # livekit-api passes timeout=None per request, which disables the session's timeout:
    # callers must bound requests themselves.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.room.delete_room(api.DeleteRoomRequest(room="r1"))


async def test_wrong_secret_is_unauthenticated(server: TwirpServer) -> None:
    """A token signed with another secret is refused with a Twirp 401."""
    other = api.LiveKitAPI(server.url, KEY, "another-secret-of-32-bytes-or-more!!")
    with pytest.raises(api.ServerError) as caught:
        await other.room.delete_room(api.DeleteRoomRequest(room="r1"))
    await other.aclose()
    assert (caught.value.status, caught.value.code) == (401, "unauthenticated")
    assert server.requests == []


async def test_missing_grant_is_permission_denied(server: TwirpServer) -> None:
    """A token for another room cannot remove a participant here; JSON bodies work too."""
    token = (
        api.AccessToken(KEY, SECRET)
        .with_grants(api.VideoGrants(room_admin=True, room="other"))
        .to_jwt()
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/twirp/livekit.RoomService/RemoveParticipant",
            json={"room": "r1", "identity": "c1"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 403
        body = await resp.json()
    assert body == {"code": "permission_denied", "msg": "requires roomAdmin for room 'r1'"}


async def test_received_waits_for_a_request_still_being_answered(
    server: TwirpServer, client: api.LiveKitAPI
) -> None:
    """`received` returns when the request arrives, before its (delayed) answer; it names what
    did arrive when the request never does."""
    server.script("RoomService/DeleteRoom", Delay(1))
    asked = asyncio.ensure_future(client.room.delete_room(api.DeleteRoomRequest(room="r1")))
    try:
        assert await server.received("RoomService/DeleteRoom", timeout=2) == [{"room": "r1"}]
        assert not asked.done()
        with pytest.raises(TimeoutError, match=r"no 1 SIP/TransferSIPParticipant within 0.1s"):
            await server.received("SIP/TransferSIPParticipant", timeout=0.1)
    finally:
        asked.cancel()
