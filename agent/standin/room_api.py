"""What LiveKit does with its rooms when the API asks, played on the stand-in's rooms."""

from __future__ import annotations

from .answers import Reply, TwirpRequest
from .server import FakeLiveKit
from .twirp import Hook, Responder


def room_effects(livekit: FakeLiveKit) -> Hook:
    """What LiveKit does to its rooms after these requests succeed, played on FakeLiveKit:
    a removed participant leaves with PARTICIPANT_REMOVED, a deleted room is deleted,
    UpdateParticipant sets attributes, and a dialled participant joins answered."""

    def effect(request: TwirpRequest) -> None:
        body = request.body
        if request.method == "RoomService/RemoveParticipant":
            livekit.room(body["room"]).leave(body["identity"], "PARTICIPANT_REMOVED")
        elif request.method == "RoomService/DeleteRoom":
            livekit.room(body["room"]).delete()
        elif request.method == "RoomService/UpdateParticipant":
            livekit.room(body["room"]).set_attributes(body["identity"], body["attributes"])
        elif request.method == "SIP/CreateSIPParticipant":
            attributes = {
                **body.get("participant_attributes", {}),
                "sip.callID": f"SCL_{body['participant_identity']}",
                "sip.callStatus": "active",
                "sip.phoneNumber": body["sip_call_to"],
                "sip.trunkID": body["sip_trunk_id"],
            }
            livekit.room(body["room_name"]).join(
                body["participant_identity"], attributes=attributes
            )

    return effect


def room_answers(livekit: FakeLiveKit) -> Responder:
    """What LiveKit answers from its rooms: ListRooms lists the named rooms that exist."""

    def answer(request: TwirpRequest) -> Reply | None:
        if request.method != "RoomService/ListRooms":
            return None
        rooms = livekit.existing(request.body.get("names", []))
        return Reply({"rooms": [{"sid": room.sid, "name": room.name} for room in rooms]})

    return answer
