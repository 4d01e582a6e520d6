"""`[answers]`: how LiveKit answers the requests the worker's rules make, by action name.

    [answers]
    transfer = { sip_status = 603 }              # the SIP service answers the REFER with 603
    dial = [{ sip_status = 486 }, {}]            # busy, then the next dial is answered
    dispatch_agent = { error = 503 }             # LiveKit itself fails (no response from servers)

Answers are used in order; once a request's are used up, it succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StrictInt, StrictStr, model_validator

from ..standin.answers import Reply, TwirpError, server_error, sip_error
from ..validation import FileModel

# Action name (as in the rules) -> the Twirp method it calls. A hangup's BYE goes through
# RemoveParticipant when the SIP participant does not take the EndCall RPC, as here.
REQUESTS: Mapping[str, str] = {
    "hangup": "RoomService/RemoveParticipant",
    "hangup_all": "RoomService/DeleteRoom",
    "set_attributes": "RoomService/UpdateParticipant",
    "transfer": "SIP/TransferSIPParticipant",
    "dial": "SIP/CreateSIPParticipant",
    "dispatch_agent": "AgentDispatchService/CreateDispatch",
}

Answer = Reply | TwirpError


def _request(action: str) -> str:
    if action not in REQUESTS:
        raise ValueError(f"not a request; answered: {', '.join(REQUESTS)}")
    return action


Request = Annotated[StrictStr, AfterValidator(_request)]


class AnswerFile(FileModel):
    """One answer: the SIP service's (`sip_status`), LiveKit's (`error`), or success."""

    WHAT: ClassVar[str] = "an answer"

    sip_status: Annotated[StrictInt, Field(ge=300, le=699)] | None = None
    error: Annotated[StrictInt, Field(ge=500, le=599)] | None = None
    reason: StrictStr | None = None
    """Replaces the SIP or error phrase."""

    @model_validator(mode="after")
    def _one_source(self) -> AnswerFile:
        if self.sip_status is not None and self.error is not None:
            msg = "give sip_status (the SIP service's answer) or error (LiveKit's), not both"
            raise ValueError(msg)
        if self.reason is not None and self.sip_status is None and self.error is None:
            raise ValueError("reason goes with sip_status or error")
        return self

    def answer(self) -> Answer:
        if self.sip_status is not None:
            return sip_error(self.sip_status, self.reason)
        if self.error is not None:
            return server_error(self.error, self.reason or "no response from servers")
        return Reply()


def answers_by_request(
    answers: Mapping[str, tuple[AnswerFile, ...]],
) -> dict[str, tuple[Answer, ...]]:
    """`[answers]` by action -> answers by Twirp method, in order."""
    return {
        REQUESTS[action]: tuple(one.answer() for one in given) for action, given in answers.items()
    }
