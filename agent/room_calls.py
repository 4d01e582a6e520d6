"""All SIP calls of one room, for one job: room events in, call events out, nothing else.

Room callbacks are synchronous (livekit's EventEmitter refuses coroutines): each one folds
the event into the call's state with the pure tracker and submits the resulting events to
the pipeline. Timers cover what LiveKit may never send (the disconnect after `hangup`,
the participant coming back after the agent's reconnect).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livekit import rtc

from . import tracker
from .call import MAX_ATTRIBUTES, MAX_ATTRIBUTES_TOTAL_CHARS, Call, CallStatus
from .call_health import (
    NAME_KEY,
    STATE_KEY,
    AgentAudio,
    AgentJoined,
    AgentLeft,
    AgentMuted,
    AgentStateChanged,
    Answered,
    Fact,
    Rang,
    agent_state,
)
from .clock import Clock, utc_now
from .events import (
    CallAgentJoined,
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallStatusChanged,
)
from .outcome import EndReason
from .pipeline import Pipeline
from .room_health import Builder, CallWatch, is_agent, thresholds
from .settings import Settings

SIP_KIND = "PARTICIPANT_KIND_SIP"
EventBuilder = Callable[[Call, int, datetime], CallEvent]
"""Builds an event from the call, its next seq and the time: see `RoomCalls.note`."""
RoomGone = Callable[[], Awaitable[bool]]
"""Asks LiveKit whether the room is gone (deleted): see `RoomCalls.end_remaining`."""
Resume = Callable[[str, Mapping[str, str]], tracker.CallState | None]
"""The state of a call a lost worker held, for a participant (identity, attributes) this job
is to resume instead of starting (agent/fleet)."""
StateTap = Callable[[tracker.CallState], None]
"""Told every new state of a call as it emits events (agent/fleet writes claims from it)."""
ROOM_CHECK_TIMEOUT_S = 3.0
ROOM_CHECKS = 3
ROOM_CHECK_INTERVAL_S = 0.2
"""LiveKit's termination of a deleted room's job came 5-41 ms after the room's state was
deleted: a room still listed is asked about again, a little later, before it counts."""


def is_sip(participant: rtc.Participant) -> bool:
    # By enum name: the FFI numbering of kinds differs from the server's.
    try:
        return rtc.ParticipantKind.Name(participant.kind) == SIP_KIND
    except ValueError:
        return False


def reason_name(reason: int | None) -> str:
    if reason is None:
        return EndReason.UNKNOWN_REASON.value
    try:
        return rtc.DisconnectReason.Name(reason)  # type: ignore[arg-type]
    except ValueError:
        return EndReason.UNKNOWN_REASON.value


@dataclass(slots=True)
class _Tracked:
    state: tracker.CallState
    health: CallWatch = dataclasses.field(init=False)
    """Set right after: its events go through this call."""
    timer: asyncio.TimerHandle | None = None
    away_reason: str | None = None
    """Set while the participant is gone during the agent's reconnect."""
    carried: Mapping[str, str] | None = None
    """After a resume: attributes the call had that the returning participant's snapshot
    lacks (it comes back with its join-time attributes only); kept under later changes."""

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class RoomCalls:
    def __init__(
        self,
        room: rtc.Room,
        pipeline: Pipeline,
        settings: Settings,
        logger: Any,
        *,
        on_idle: Callable[[], None],
        clock: Clock = utc_now,
        room_gone: RoomGone | None = None,
        hold_end: Callable[[str, str], bool] | None = None,
        resume: Resume | None = None,
        on_state: StateTap | None = None,
    ) -> None:
        self.room = room
        self.pipeline = pipeline
        self.log = logger
        self._settings = settings
        self._on_idle = on_idle
        self._clock = clock
        self._room_gone = room_gone
        self._hold_end = hold_end
        """Asked before a participant's disconnect ends its call: True keeps it for the job
        (a dial in flight ends its call when the dial's answer, with the SIP status, comes)."""
        self._resume = resume
        self._on_state = on_state
        self._calls: dict[str, _Tracked] = {}
        """Calls by participant identity: the room's key for a participant."""
        self._agents: dict[str, str | None] = {}
        """Agent participants in the room (kind AGENT), by identity: their `lk.agent.name`.
        They are the room's, so each of the room's calls hears of them."""
        self._limits = thresholds(settings)
        self._reconnecting = False
        self._ever_had_call = False
        self._no_call_timer: asyncio.TimerHandle | None = None

    # -- wiring ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Listen to the room. Call before connecting so no event is missed."""
        room = self.room
        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_attributes_changed", self._on_attributes_changed)
        room.on("sip_dtmf_received", self._on_dtmf)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("track_published", self._on_track_published)
        room.on("track_unpublished", self._on_track_unpublished)
        room.on("track_muted", self._on_track_muted)
        room.on("disconnected", self._on_room_disconnected)
        room.on("reconnecting", self._on_reconnecting)
        room.on("reconnected", self._on_reconnected)

    def scan(self) -> None:
        """Start the calls already in the room when the job connected (after its agents,
        which each call then finds there)."""
        participants = list(self.room.remote_participants.values())
        for participant in participants:
            if is_agent(participant):
                self._agent_joined(participant)
        for participant in participants:
            self._ensure(participant)
        if not self._ever_had_call:
            self._no_call_timer = asyncio.get_running_loop().call_later(
                self._settings.no_call_timeout_s, self._no_call_timeout
            )

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def active(self) -> int:
        return sum(1 for t in self._calls.values() if not t.state.ended)

    def state_of(self, identity: str) -> tracker.CallState | None:
        tracked = self._calls.get(identity)
        return tracked.state if tracked is not None else None

    # -- results of actions, as tracker events ----------------------------------------------

    def note(self, identity: str, build: EventBuilder) -> bool:
        """Deliver an event about a tracked call (an action's result) with its next seq."""
        tracked = self._calls.get(identity)
        if tracked is None:
            return False
        now = self._clock()
        self._emit(tracked, tracker.note(tracked.state, lambda call, seq: build(call, seq, now)))
        return True

    def transferred(self, identity: str, to: str) -> None:
        """A transfer of this call was accepted: `call.transfer_succeeded`, and the end that
        LiveKit brings next is the transfer's."""
        tracked = self._calls.get(identity)
        if tracked is not None:
            self._emit(tracked, tracker.transferred(tracked.state, to=to, now=self._clock()))

    def agent_hangup(self, identity: str, *, asked: bool = True) -> None:
        """This worker asks the SIP service to end the call (EndCall), before the request
        goes out: LiveKit's BYE and `hangup` can come back before the request's answer."""
        tracked = self._calls.get(identity)
        if tracked is not None and not tracked.state.ended:
            tracked.state = tracker.agent_hangup(tracked.state, asked=asked)

    def start_unjoined(self, identity: str, attributes: Mapping[str, str]) -> None:
        """A call whose participant never joined (a failed dial) is still a call."""
        known = self._calls.get(identity)
        if known is None or known.state.ended:
            self._start(identity, attributes, participant_sid="")

    def joined(self, identity: str) -> bool:
        """Whether a live call's participant has joined the room (and not left yet)."""
        tracked = self._calls.get(identity)
        return (
            tracked is not None
            and not tracked.state.ended
            and tracked.state.call.participant_sid != ""
        )

    # -- the fold -------------------------------------------------------------------------

    def _emit(self, tracked: _Tracked, step: tracker.Step) -> None:
        tracked.state, events = step
        if not events:
            return
        self._health_of(tracked, events)
        if self._on_state is not None:
            self._on_state(tracked.state)
        self.pipeline.submit(events)
        if tracked.state.ended:
            tracked.cancel_timer()
            self._check_idle()
        elif tracked.state.hangup_at is not None and tracked.timer is None:
            # `hangup` is an early hint; the disconnect normally follows within moments.
            tracked.timer = asyncio.get_running_loop().call_later(
                self._settings.hangup_grace_s, self._hangup_grace_over, tracked
            )

    def _health_of(self, tracked: _Tracked, events: list[CallEvent]) -> None:
        """The call's own facts into its health; `call.ended` gets the figures."""
        for index, event in enumerate(events):
            if isinstance(event, CallAnswered):
                tracked.health.feed(Answered(event.at), self._agents)
            elif (
                isinstance(event, CallStatusChanged)
                and event.status is CallStatus.RINGING
                and event.previous is CallStatus.DIALING
            ):
                tracked.health.feed(Rang(event.at), self._agents)
            elif isinstance(event, CallEnded):
                events[index] = tracked.health.ended(event)

    def _note(self, tracked: _Tracked, build: Builder) -> None:
        """A health event about a live call, with its next seq."""
        if not tracked.state.ended:
            self._emit(tracked, tracker.note(tracked.state, build))

    def _ensure(self, participant: rtc.RemoteParticipant) -> _Tracked | None:
        """The tracked call of a SIP participant, started on first sight."""
        if not is_sip(participant):
            return None
        tracked = self._returning(participant)
        if tracked is not None:
            return tracked
        tracked = self._calls.get(participant.identity)
        if tracked is not None and not (
            # The same identity can dial in again after its first call ended.
            tracked.state.ended and tracked.state.call.participant_sid != participant.sid
        ):
            return tracked
        return self._start(participant.identity, participant.attributes, participant.sid)

    def _start(
        self, identity: str, attributes: Mapping[str, str], participant_sid: str
    ) -> _Tracked:
        resumed = self._resume(identity, attributes) if self._resume is not None else None
        if resumed is not None:
            return self._resumed(resumed, attributes, participant_sid)
        state, events = tracker.start(
            attributes,
            room=self.room.name,
            identity=identity,
            participant_sid=participant_sid,
            now=self._clock(),
        )
        tracked = self._track(identity, state)
        if state.call.status_is_unknown:
            self._warn_unknown_status(state)
        if state.call.attributes_dropped:
            self._warn_dropped(state.call)
        self._emit(tracked, (state, events))
        for agent in self._agent_participants():
            self._agent_to_call(tracked, agent)
        return tracked

    def _track(self, identity: str, state: tracker.CallState) -> _Tracked:
        tracked = self._calls[identity] = _Tracked(state=state)
        tracked.health = CallWatch(
            state.call.first_seen, self._limits, self._clock, lambda b: self._note(tracked, b)
        )
        if state.answered_at is not None:  # a resumed call
            tracked.health.feed(Answered(state.answered_at), self._agents)
        self._ever_had_call = True
        if self._no_call_timer is not None:
            self._no_call_timer.cancel()
            self._no_call_timer = None
        return tracked

    def _resumed(
        self, state: tracker.CallState, attributes: Mapping[str, str], participant_sid: str
    ) -> _Tracked:
        """A call a lost worker held goes on here: its key, its next seq, no second
        `call.started`; what changed while nobody watched comes as the usual events."""
        call = dataclasses.replace(state.call, participant_sid=participant_sid)
        tracked = self._track(call.identity, dataclasses.replace(state, call=call))
        self.log.info(
            "call.resumed",
            call_id=call.call_id,
            call_key=call.key,
            room=self.room.name,
            seq=state.seq,
        )
        self._update(tracked, attributes)
        return tracked

    def _returning(self, participant: rtc.RemoteParticipant) -> _Tracked | None:
        """A participant announced again after the agent's reconnect (same identity or same
        `sip.callID`, a new participant sid): the same call goes on."""
        call_id = participant.attributes.get("sip.callID")
        for identity, tracked in self._calls.items():
            if tracked.away_reason is None or tracked.state.ended:
                continue
            if identity == participant.identity or (
                call_id is not None and tracked.state.call.call_id == call_id
            ):
                tracked.away_reason = None
                tracked.cancel_timer()
                call = dataclasses.replace(tracked.state.call, participant_sid=participant.sid)
                tracked.state = dataclasses.replace(tracked.state, call=call)
                known = call.attributes
                tracked.carried = {
                    k: v for k, v in known.items() if k not in participant.attributes
                } or None
                del self._calls[identity]
                self._calls[participant.identity] = tracked
                self.log.info(
                    "call.resumed", call_id=tracked.state.call.call_id, room=self.room.name
                )
                self._update(tracked, participant.attributes)
                return tracked
        return None

    def _update(self, tracked: _Tracked, attributes: Mapping[str, str]) -> None:
        if tracked.carried:
            attributes = {**tracked.carried, **attributes}
        before = tracked.state.call
        step = tracker.update(tracked.state, attributes, now=self._clock())
        call = step[0].call
        if call.raw_status != before.raw_status and call.status_is_unknown:
            self._warn_unknown_status(step[0])
        if call.attributes_dropped and not before.attributes_dropped:
            self._warn_dropped(call)
        self._emit(tracked, step)

    def _warn_unknown_status(self, state: tracker.CallState) -> None:
        self.log.warning(
            "unknown call status",
            call_id=state.call.call_id,
            room=self.room.name,
            raw_status=state.call.raw_status,
            known=[s.value for s in CallStatus],
        )

    def _warn_dropped(self, call: Call) -> None:
        self.log.warning(
            "call attributes over the bound, some not kept",
            call_id=call.call_id,
            call_key=call.key,
            room=self.room.name,
            dropped=call.attributes_dropped,
            bound=f"{MAX_ATTRIBUTES} attributes, {MAX_ATTRIBUTES_TOTAL_CHARS} characters",
        )

    def end_call(self, identity: str, reason: str, *, sip_status_code: int | None = None) -> None:
        tracked = self._calls.get(identity)
        if tracked is None:
            return
        tracked.away_reason = None
        self._emit(
            tracked,
            tracker.end(
                tracked.state, reason=reason, now=self._clock(), sip_status_code=sip_status_code
            ),
        )

    def end_all(self, reason: str) -> None:
        for identity in list(self._calls):
            self.end_call(identity, reason)

    # -- room callbacks (synchronous) -----------------------------------------------------

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        if is_agent(participant):
            self._agent_joined(participant)
        else:
            self._ensure(participant)

    def _on_attributes_changed(
        self, changed: Mapping[str, str], participant: rtc.Participant
    ) -> None:
        if not isinstance(participant, rtc.RemoteParticipant):
            return
        if participant.identity in self._agents:
            if STATE_KEY in changed:
                raw = participant.attributes.get(STATE_KEY)
                self._agent_fact(
                    AgentStateChanged(self._clock(), participant.identity, agent_state(raw))
                )
            return
        tracked = self._calls.get(participant.identity)
        if tracked is None:
            # An attribute change can be the first thing seen of a call already present.
            self._ensure(participant)
            return
        self._update(tracked, participant.attributes)

    def _on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        participant = dtmf.participant
        tracked = self._calls.get(participant.identity) if participant is not None else None
        if tracked is None:
            self.log.debug("dtmf from a participant that is not a tracked call")
            return
        self._emit(
            tracked,
            tracker.dtmf(tracked.state, digit=dtmf.digit, code=dtmf.code, now=self._clock()),
        )

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity in self._agents:
            self._agent_left(participant)
            return
        tracked = self._calls.get(participant.identity)
        if tracked is None or tracked.state.ended:
            return
        reason = reason_name(participant.disconnect_reason)
        if self._hold_end is not None and self._hold_end(participant.identity, reason):
            return
        if self._reconnecting and reason == EndReason.UNKNOWN_REASON:
            # The SDK reports everyone gone (with no reason) while it restarts the
            # connection; they are announced again seconds AFTER `reconnected` (new sid).
            # The grace starts at `reconnected`: the time before it says nothing.
            tracked.away_reason = reason
            tracked.cancel_timer()
            return
        self.end_call(participant.identity, reason)

    def _on_room_disconnected(self, reason: int) -> None:
        name = reason_name(reason)
        if name == EndReason.CLIENT_INITIATED:
            # The agent's own disconnect: the job is ending. That can be LiveKit terminating
            # the job of a deleted room ahead of the room's own disconnect, so the calls
            # still up are ended by `aclose`, which asks LiveKit which it was.
            return
        self.end_all(name)

    def _on_reconnecting(self) -> None:
        self._reconnecting = True
        self.log.warning("livekit connection lost, reconnecting", room=self.room.name)

    def _on_reconnected(self) -> None:
        self._reconnecting = False
        for participant in list(self.room.remote_participants.values()):
            self._ensure(participant)
        away = [i for i, t in self._calls.items() if t.away_reason and not t.state.ended]
        self.log.info("livekit connection restored", room=self.room.name, calls_away=len(away))
        loop = asyncio.get_running_loop()
        for identity in away:
            tracked = self._calls[identity]
            tracked.cancel_timer()
            tracked.timer = loop.call_later(
                self._settings.reconnect_grace_s, self._away_too_long, identity
            )

    # -- the room's agents (call health) ------------------------------------------------

    def _agent_participants(self) -> list[rtc.RemoteParticipant]:
        present = self.room.remote_participants
        return [present[i] for i in self._agents if i in present]

    def _live(self) -> list[_Tracked]:
        return [t for t in self._calls.values() if not t.state.ended]

    def _agent_joined(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity in self._agents:
            return
        self._agents[participant.identity] = participant.attributes.get(NAME_KEY)
        for tracked in self._live():
            self._agent_to_call(tracked, participant)

    def _agent_to_call(self, tracked: _Tracked, participant: rtc.RemoteParticipant) -> None:
        """An agent is in the call's room: `call.agent_joined`, and what it already shows."""
        now, identity = self._clock(), participant.identity
        name = self._agents.get(identity)
        tracked.health.feed(AgentJoined(now, identity, name), self._agents)
        self._note(
            tracked,
            lambda call, seq: CallAgentJoined(
                call=call, seq=seq, at=now, identity=identity, agent_name=name
            ),
        )
        if (state := agent_state(participant.attributes.get(STATE_KEY))) is not None:
            tracked.health.feed(AgentStateChanged(now, identity, state), self._agents)
        for publication in participant.track_publications.values():
            if publication.kind == rtc.TrackKind.KIND_AUDIO:
                tracked.health.feed(AgentAudio(now, identity, published=True), self._agents)

    def _agent_left(self, participant: rtc.RemoteParticipant) -> None:
        now, identity = self._clock(), participant.identity
        name = self._agents.pop(identity, None)
        reason = reason_name(participant.disconnect_reason)
        for tracked in self._live():
            tracked.health.feed(AgentLeft(now, identity), self._agents)
            self._note(
                tracked,
                lambda call, seq: CallAgentLeft(
                    call=call, seq=seq, at=now, identity=identity, agent_name=name, reason=reason
                ),
            )

    def _agent_fact(self, fact: Fact) -> None:
        for tracked in self._live():
            tracked.health.feed(fact, self._agents)

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity in self._agents and publication.kind == rtc.TrackKind.KIND_AUDIO:
            self._agent_fact(AgentAudio(self._clock(), participant.identity, published=True))

    def _on_track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity in self._agents and publication.kind == rtc.TrackKind.KIND_AUDIO:
            self._agent_fact(AgentAudio(self._clock(), participant.identity, published=False))

    def _on_track_muted(
        self, participant: rtc.Participant, publication: rtc.TrackPublication
    ) -> None:
        if participant.identity in self._agents:
            self._agent_fact(AgentMuted(self._clock(), participant.identity, muted=True))

    def health_deadline(self) -> datetime | None:
        """The earliest pending health deadline of the room's calls (the simulator moves its
        clock to it)."""
        found = [d for t in self._live() if (d := t.health.deadline()) is not None]
        return min(found) if found else None

    def check_health(self) -> None:
        """Raise the health events due by the clock now (timers do this by themselves)."""
        for tracked in self._live():
            tracked.health.check()

    # -- timers ---------------------------------------------------------------------------

    def _hangup_grace_over(self, tracked: _Tracked) -> None:
        tracked.timer = None
        if not tracked.state.ended:
            self._emit(tracked, tracker.end_after_hangup(tracked.state, now=self._clock()))

    def _away_too_long(self, identity: str) -> None:
        tracked = self._calls.get(identity)
        if tracked is None or tracked.away_reason is None:
            return
        tracked.timer = None
        self.end_call(identity, tracked.away_reason)

    def _no_call_timeout(self) -> None:
        self._no_call_timer = None
        if not self._ever_had_call:
            self.log.warning(
                "no SIP participant joined; ending the job",
                room=self.room.name,
                waited_s=self._settings.no_call_timeout_s,
            )
            self._on_idle()

    # -- the end of the job ---------------------------------------------------------------

    def _check_idle(self) -> None:
        if self.active == 0:
            self._on_idle()

    async def end_remaining(self) -> None:
        """The job ends under the calls still up: end them, with the room's reason when it
        was deleted (see `_reason_at_job_end`), else JOB_ENDED."""
        if self._no_call_timer is not None:
            self._no_call_timer.cancel()
        if self.active:
            self.end_all(await self._reason_at_job_end())

    async def _reason_at_job_end(self) -> str:
        """ROOM_DELETED when LiveKit says the room is gone, else JOB_ENDED.

        LiveKit ends the job of a room it deleted, and that termination can reach the job
        before the room's own `disconnected(ROOM_DELETED)` (seen on livekit-server 1.13.5);
        once the job has disconnected, that reason never comes. A worker draining or losing
        LiveKit finds the room still there, or cannot ask: JOB_ENDED.
        """
        if self._room_gone is None:
            return EndReason.JOB_ENDED
        try:
            async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                for attempt in range(ROOM_CHECKS):
                    if attempt:
                        await asyncio.sleep(ROOM_CHECK_INTERVAL_S)
                    if gone := await self._room_gone():
                        break
        except Exception as exc:  # no answer is an answer: the job ended under the calls
            self.log.warning(
                "could not ask LiveKit whether the room was deleted",
                room=self.room.name,
                error=f"{type(exc).__name__}: {exc}",
            )
            return EndReason.JOB_ENDED
        return EndReason.ROOM_DELETED if gone else EndReason.JOB_ENDED
