"""`CallControl`: act on a call and its room from handlers and router rules.

Every action is logged with the call's context and bounded by `action_timeout_s` (plus the
ringing window for actions that ring a phone). A failure never raises into the caller: it
becomes an event on the call (`call.action_failed`, or `call.transfer_failed`) and the
method returns None/False. An action on a call that has ended is refused with a log line.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from livekit import api, rtc

from .. import dtmf
from ..call import Call, dialled_attributes
from ..current import current_job
from ..events import CallActionFailed, CallEvent, CallTransferFailed
from ..job import CallJob
from ..privacy import call_numbers, redact_text
from ..room_calls import EventBuilder
from .failures import Failure

T = TypeVar("T")

END_CALL_RPC = "lk.sip.EndCall"
# LiveKit's ring window when a dial or transfer does not set one.
DEFAULT_RINGING_S = 30
# RPC errors that mean "this SIP service has no EndCall": fall back to RemoveParticipant.
_RPC_UNSUPPORTED = frozenset(
    {
        rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD,
        rtc.RpcError.ErrorCode.UNSUPPORTED_SERVER,
        rtc.RpcError.ErrorCode.UNSUPPORTED_VERSION,
    }
)


def _action_failed(action: str, failure: Failure) -> EventBuilder:
    def build(call: Call, seq: int, at: datetime) -> CallEvent:
        return CallActionFailed(
            call=call,
            seq=seq,
            at=at,
            action=action,
            error=failure.error,
            sip_status_code=failure.sip_status_code,
        )

    return build


def _transfer_failed(to: str, code: int | None, reason: str) -> EventBuilder:
    def build(call: Call, seq: int, at: datetime) -> CallEvent:
        return CallTransferFailed(
            call=call, seq=seq, at=at, to=to, sip_status_code=code, reason=reason
        )

    return build


def _set_durations(request: Message, **seconds: int | None) -> None:
    # Only the ones given: a present zero Duration would mean "ring for 0 s" to LiveKit.
    for name, value in seconds.items():
        if value is not None:
            getattr(request, name).FromSeconds(value)


@dataclass(frozen=True, slots=True)
class CallControl:
    """Actions on one call (by its participant identity) in one job's room."""

    job: CallJob
    identity: str

    @classmethod
    def for_event(cls, event: CallEvent) -> CallControl:
        """The control of the event's call, inside the job that delivered the event;
        RuntimeError, saying so, anywhere else."""
        return cls(current_job(), event.call.identity)

    @property
    def room(self) -> str:
        return self.job.room.name

    @property
    def api(self) -> api.LiveKitAPI:
        return self.job.api

    def background(self, action: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run an action beside event delivery: a handler must not wait out a ringing
        transfer or dial (the handler timeout would cancel it). The job waits for it."""
        return self.job.spawn(action)

    @property
    def _log(self) -> Any:
        state = self.job.calls.state_of(self.identity)
        if state is None:
            return self.job.log.bind(call_id=self.identity, room=self.room)
        # Identities often carry the number (`sip_+1555…`): they follow the privacy setting.
        numbers = call_numbers(state.call, self.job.settings.phone_numbers)
        identity = redact_text(self.identity, numbers)
        return self.job.log.bind(call_id=state.call.call_id, room=self.room, identity=identity)

    def _refused(self, action: str) -> bool:
        state = self.job.calls.state_of(self.identity)
        if state is None or state.ended:
            why = "the call has ended" if state is not None else "no such call in this room"
            self._log.warning("call action refused", action=action, why=why)
            return True
        return False

    async def _attempt(
        self, action: str, work: Callable[[], Awaitable[T]], *, extra_s: float = 0.0
    ) -> T | Failure:
        """Run one request, bounded and logged; a failure comes back as a `Failure`."""
        timeout_s = self.job.settings.action_timeout_s + extra_s
        log = self._log.bind(action=action)
        log.info("call action")
        try:
            async with asyncio.timeout(timeout_s):
                result = await work()
        except Exception as exc:  # any failure is reported as an event, never raised
            failure = Failure.of(exc, timeout_s=timeout_s)
            log.warning(
                "call action failed", error=failure.error, sip_status_code=failure.sip_status_code
            )
            return failure
        log.info("call action done")
        return result

    async def _run(
        self,
        action: str,
        work: Callable[[], Awaitable[T]],
        *,
        extra_s: float = 0.0,
        on_failure: Callable[[Failure], EventBuilder] | None = None,
    ) -> T | None:
        """`_attempt`, with a failure turned into an event on this call."""
        result = await self._attempt(action, work, extra_s=extra_s)
        if isinstance(result, Failure):
            build = on_failure(result) if on_failure else _action_failed(action, result)
            self.job.calls.note(self.identity, build)
            return None
        return result

    # -- ending calls ---------------------------------------------------------------------

    async def hangup(self, *, headers: Mapping[str, str] | None = None) -> bool:
        """End this call's leg. With `headers`, they go on the BYE where the SIP service
        offers `lk.sip.EndCall`; otherwise (and as the fallback) the participant is removed.
        A second hangup of the same call makes no second request."""
        pending = self.job.hangups.get(self.identity)
        if pending is not None:
            self._log.info("hangup already requested", action="hangup")
            return await asyncio.shield(pending)
        if self._refused("hangup"):
            return False
        # A task of the job's, not of this caller: a cancelled handler cannot lose it.
        task: asyncio.Task[bool] = self.job.spawn(self._hangup(dict(headers or {})))
        self.job.hangups[self.identity] = task
        return await asyncio.shield(task)

    async def _hangup(self, headers: dict[str, str]) -> bool:
        if headers:
            self.job.calls.agent_hangup(self.identity)
            if await self._end_call_rpc(headers):
                return True
            self.job.calls.agent_hangup(self.identity, asked=False)
        request = api.RoomParticipantIdentity(room=self.room, identity=self.identity)
        return (
            await self._run("hangup", lambda: self.api.room.remove_participant(request)) is not None
        )

    async def _end_call_rpc(self, headers: dict[str, str]) -> bool:
        """True when the SIP service ended the call by RPC; False when it has no EndCall or
        the RPC failed (the caller then removes the participant: the call still ends)."""
        if self.job.end_call_rpc is False:
            return False
        local = self.job.room.local_participant
        log = self._log.bind(action="hangup", via=END_CALL_RPC)
        log.info("call action")
        try:
            async with asyncio.timeout(self.job.settings.action_timeout_s):
                await local.perform_rpc(
                    destination_identity=self.identity,
                    method=END_CALL_RPC,
                    payload=json.dumps({"headers": headers}),
                )
        except rtc.RpcError as exc:
            if exc.code in _RPC_UNSUPPORTED:
                self.job.end_call_rpc = False
                log.info(
                    "SIP service has no lk.sip.EndCall; hanging up without BYE headers",
                    rpc_error=exc.message,
                )
            else:
                log.warning("EndCall failed; hanging up without BYE headers", error=exc.message)
            return False
        except TimeoutError:
            log.warning("EndCall got no answer; hanging up without BYE headers")
            return False
        self.job.end_call_rpc = True
        log.info("call action done")
        return True

    async def hangup_all(self) -> bool:
        """End the room for everyone (delete it). Once per room however often it is asked."""
        if self.job.deletion is not None:
            self._log.info("room deletion already requested", action="hangup_all")
            return await asyncio.shield(self.job.deletion)
        if self._refused("hangup_all"):
            return False
        request = api.DeleteRoomRequest(room=self.room)

        async def delete() -> bool:
            done = await self._run("hangup_all", lambda: self.api.room.delete_room(request))
            return done is not None

        self.job.deletion = self.job.spawn(delete())
        return await asyncio.shield(self.job.deletion)

    # -- moving calls ---------------------------------------------------------------------

    async def transfer(
        self,
        to: str,
        *,
        play_dialtone: bool = False,
        headers: Mapping[str, str] | None = None,
        ringing_timeout: int | None = None,
    ) -> bool:
        """Cold transfer (SIP REFER) to `tel:+…` or `sip:…`; the result is an event:
        `call.transfer_succeeded`, or `call.transfer_failed` with the SIP status."""
        if self._refused("transfer"):
            return False
        request = api.TransferSIPParticipantRequest(
            room_name=self.room,
            participant_identity=self.identity,
            transfer_to=to,
            play_dialtone=play_dialtone,
            headers=dict(headers or {}),
        )
        _set_durations(request, ringing_timeout=ringing_timeout)

        def failed(failure: Failure) -> EventBuilder:
            return _transfer_failed(to, failure.sip_status_code, failure.reason)

        response = await self._run(
            "transfer",
            lambda: self.api.sip.transfer_sip_participant(request),
            extra_s=ringing_timeout or DEFAULT_RINGING_S,
            on_failure=failed,
        )
        if response is None:
            return False
        if response.status == api.SIPTransferStatus.STS_TRANSFER_FAILED:
            # A completed request can still report a failed transfer.
            code = response.sip_status.code or None
            reason = response.sip_status.status or api.SIPTransferReason.Name(response.reason)
            self.job.calls.note(self.identity, _transfer_failed(to, code, reason))
            return False

        self.job.calls.transferred(self.identity, to)
        return True

    async def dial(
        self,
        to: str,
        *,
        trunk: str,
        from_number: str | None = None,
        identity: str | None = None,
        attributes: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        wait_until_answered: bool = True,
        ringing_timeout: int | None = None,
        max_call_duration: int | None = None,
        dtmf: str = "",
    ) -> str | None:
        """Dial `to` through outbound `trunk` into this room; returns the new call's
        participant identity, or None when the dial failed.

        The new call is tracked like any other from its room events. A failed dial is always
        a call with an end: `call.started` (made here when the participant never joined),
        `call.action_failed` with the SIP status, then `call.ended` with outcome busy,
        no-answer or failed and `sip_status_code`.
        """
        if self._refused("dial"):
            return None
        identity = identity or f"sip-dial-{secrets.token_hex(4)}"
        request = api.CreateSIPParticipantRequest(
            room_name=self.room,
            sip_trunk_id=trunk,
            sip_call_to=to,
            sip_number=from_number or "",
            participant_identity=identity,
            participant_attributes=dict(attributes or {}),
            headers=dict(headers or {}),
            wait_until_answered=wait_until_answered,
            dtmf=dtmf,
        )
        _set_durations(
            request, ringing_timeout=ringing_timeout, max_call_duration=max_call_duration
        )
        dialled = CallControl(self.job, identity)
        self.job.dial_started(identity)
        ring_s = (ringing_timeout or DEFAULT_RINGING_S) if wait_until_answered else 0
        result = await dialled._attempt(
            "dial", lambda: self.api.sip.create_sip_participant(request), extra_s=ring_s
        )
        if not isinstance(result, Failure):
            self.job.dial_finished(identity)
            return identity
        # A failed dial is still a call, whose participant may never have joined: it carries
        # the failure, then ends with the SIP status.
        self.job.calls.start_unjoined(
            identity, dialled_attributes(attributes or {}, to=to, trunk=trunk, caller=from_number)
        )
        self.job.calls.note(identity, _action_failed("dial", result))
        self.job.dial_finished(
            identity, failure=result.dial_end_reason(), sip_status_code=result.sip_status_code
        )
        if result.timed_out:
            # LiveKit goes on ringing after our request gave up: stop the phone ringing.
            remove = api.RoomParticipantIdentity(room=self.room, identity=identity)
            try:
                await self.api.room.remove_participant(remove)
            except Exception as exc:  # best effort: the call is already ended here
                dialled._log.info("could not cancel the timed-out dial", error=repr(exc))
        return None

    async def dispatch_agent(self, agent_name: str, metadata: str = "") -> str | None:
        """Bring a voice agent into the call's room (explicit dispatch); the dispatch id."""
        if self._refused("dispatch_agent"):
            return None
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=self.room, metadata=metadata
        )
        dispatch = await self._run(
            "dispatch_agent", lambda: self.api.agent_dispatch.create_dispatch(request)
        )
        return dispatch.id if dispatch is not None else None

    # -- talking to the call --------------------------------------------------------------

    async def send_dtmf(self, digits: str) -> bool:
        """Play DTMF digits (0-9, *, #, A-D) to the call, in order."""
        unknown = sorted({d for d in digits.upper() if d not in dtmf.CODES})
        if unknown:
            raise ValueError(f"not DTMF digits: {''.join(unknown)!r} (use 0-9, *, #, A-D)")
        if self._refused("send_dtmf"):
            return False
        local = self.job.room.local_participant

        async def send() -> bool:
            for digit in digits.upper():
                await local.publish_dtmf(code=dtmf.CODES[digit], digit=digit)
            return True

        return await self._run("send_dtmf", send) is not None

    async def set_attributes(self, attributes: Mapping[str, str]) -> bool:
        """Set attributes on the call's participant (they come back as `call.updated`)."""
        if self._refused("set_attributes"):
            return False
        request = api.UpdateParticipantRequest(
            room=self.room, identity=self.identity, attributes=dict(attributes)
        )
        return (
            await self._run("set_attributes", lambda: self.api.room.update_participant(request))
            is not None
        )


def control(event: CallEvent) -> CallControl:
    """`await control(event).hangup()` in a handler: the control of the event's call."""
    return CallControl.for_event(event)


__all__ = ["DEFAULT_RINGING_S", "END_CALL_RPC", "CallControl", "control"]
