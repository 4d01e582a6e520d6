"""`[answers]`: how LiveKit answers the requests the worker's rules make, by action name.

    [answers]
    transfer = { sip_status = 603 }              # the SIP service answers the REFER with 603
    dial = [{ sip_status = 486 }, {}]            # busy, then the next dial is answered
    dispatch_agent = { error = 503 }             # LiveKit itself fails (no response from servers)

Answers are used in order; once a request's are used up, it succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..standin.answers import Reply, TwirpError, server_error, sip_error

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
ANSWER_KEYS = ("sip_status", "reason", "error")

Answer = Reply | TwirpError


def _code(raw: Mapping[str, object], key: str, low: int, high: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} must be a whole number {low}-{high} (got {value!r})")
    return value


def _answer(raw: object) -> Answer:
    if not isinstance(raw, dict):
        raise ValueError(f"an answer is a table of {', '.join(ANSWER_KEYS)} (got {raw!r})")
    if unknown := sorted(set(raw) - set(ANSWER_KEYS)):
        raise ValueError(f"unknown key {unknown[0]!r}; an answer takes {list(ANSWER_KEYS)}")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValueError(f"reason must be a string (got {reason!r})")
    if "sip_status" in raw and "error" in raw:
        raise ValueError(
            "give sip_status (the SIP service's answer) or error (LiveKit's), not both"
        )
    if "sip_status" in raw:
        return sip_error(_code(raw, "sip_status", 300, 699), reason)
    if "error" in raw:
        status = _code(raw, "error", 500, 599)
        return server_error(status, reason or "no response from servers")
    if reason is not None:
        raise ValueError("reason goes with sip_status or error")
    return Reply()


def parse_answers(raw: object) -> dict[str, tuple[Answer, ...]]:
    """`[answers]` -> answers by Twirp method; ValueError names the entry at fault."""
    if not isinstance(raw, dict):
        raise ValueError(f"[answers] must be a table (got {raw!r})")
    answers = {}
    for action, value in raw.items():
        if action not in REQUESTS:
            raise ValueError(f"answers.{action}: not a request; answered: {', '.join(REQUESTS)}")
        try:
            answers[REQUESTS[action]] = tuple(
                _answer(one) for one in (value if isinstance(value, list) else [value])
            )
        except ValueError as exc:
            raise ValueError(f"answers.{action}: {exc}") from None
    return answers
