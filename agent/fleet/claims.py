"""Call claims in the database: which worker holds which call, and the state to carry on.

A claim is written while its call is up (`ClaimWriter`), taken over by a live worker when its
worker stops beating (`Claims.take_over`: one UPDATE whose WHERE clause re-checks the owner and
its expired lease, so of two live workers only one gets each call), and removed once the call's
end reached every handler.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, exists, insert, select, update

from ..call import parse_call
from ..clock import utc_now
from ..tracker import CallState
from .schema import call_claims, workers


def state_json(state: CallState) -> str:
    """What rebuilds the call's tracker state: its attributes as last seen, its fixed
    identifiers and times, and the seq of the last event it emitted."""
    call = state.call
    return json.dumps(
        {
            "attributes": dict(call.attributes),
            "call_id": call.call_id,
            "key": call.key,
            "room": call.room,
            "identity": call.identity,
            "participant_sid": call.participant_sid,
            "first_seen": call.first_seen.isoformat(),
            "seq": state.seq,
            "answered_at": _iso(state.answered_at),
            "hangup_at": _iso(state.hangup_at),
            "transferred_to": state.transferred_to,
            "agent_hangup": state.agent_hangup,
        }
    )


def state_from_json(text: str) -> CallState:
    data = json.loads(text)
    call = parse_call(
        data["attributes"],
        room=data["room"],
        identity=data["identity"],
        participant_sid=data["participant_sid"],
        first_seen=datetime.fromisoformat(data["first_seen"]),
        call_id=data["call_id"],
        key=data["key"],
    )
    return CallState(
        call=call,
        seq=data["seq"],
        answered_at=_time(data["answered_at"]),
        hangup_at=_time(data["hangup_at"]),
        transferred_to=data["transferred_to"],
        agent_hangup=data["agent_hangup"],
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class Claim:
    call_key: str
    worker_id: str
    room: str
    identity: str
    resuming: bool
    updated_at: datetime
    state: CallState


def _claim(row: Any) -> Claim:
    return Claim(
        call_key=row.call_key,
        worker_id=row.worker_id,
        room=row.room,
        identity=row.identity,
        resuming=bool(row.resuming),
        updated_at=row.updated_at,
        state=state_from_json(row.state),
    )


class Claims:
    """The fleet's tables on one engine; every method is one short transaction (call it
    from a thread, never from a job's event loop)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- heartbeats -----------------------------------------------------------------------

    def beat(self, worker_id: str, *, host: str, pid: int, agent_name: str) -> None:
        now = utc_now()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(workers).where(workers.c.id == worker_id).values(beat_at=now)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(workers).values(
                        id=worker_id, host=host, pid=pid, agent_name=agent_name, beat_at=now
                    )
                )

    def forget_worker(self, worker_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))

    # -- a job's claims -------------------------------------------------------------------

    def write(self, worker_id: str, states: Sequence[CallState]) -> None:
        """Insert or update the claims of these calls, held by `worker_id`."""
        now = utc_now()
        with self.engine.begin() as conn:
            for state in states:
                values = {
                    "worker_id": worker_id,
                    "seq": state.seq,
                    "ended": int(state.ended),
                    "state": state_json(state),
                    "updated_at": now,
                }
                done = conn.execute(
                    update(call_claims)
                    .where(call_claims.c.call_key == state.call.key)
                    .values(resuming=0, **values)
                )
                if done.rowcount == 0:
                    conn.execute(
                        insert(call_claims).values(
                            call_key=state.call.key,
                            room=state.call.room,
                            identity=state.call.identity,
                            call_id=state.call.call_id,
                            resuming=0,
                            **values,
                        )
                    )

    def release(self, call_keys: Sequence[str]) -> None:
        """The calls ended and every handler has their end: nothing left to take over."""
        with self.engine.begin() as conn:
            conn.execute(delete(call_claims).where(call_claims.c.call_key.in_(call_keys)))

    def take_resumes(self, room: str, worker_id: str) -> list[Claim]:
        """The calls of `room` a live worker took over and dispatched a job for: this job's
        now (and no other job's)."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(call_claims).where(call_claims.c.room == room, call_claims.c.resuming == 1)
            ).all()
            taken = []
            for row in rows:
                done = conn.execute(
                    update(call_claims)
                    .where(call_claims.c.call_key == row.call_key, call_claims.c.resuming == 1)
                    .values(resuming=0, worker_id=worker_id, updated_at=utc_now())
                )
                if done.rowcount == 1:
                    taken.append(_claim(row))
            return taken

    # -- taking calls over ----------------------------------------------------------------

    def orphans(self, lease_s: float) -> list[Claim]:
        """Claims whose worker stopped beating `lease_s` ago (or never beat), and claims
        dispatched for a resume that no job took within `lease_s`."""
        cutoff = utc_now() - timedelta(seconds=lease_s)
        alive = exists().where(workers.c.id == call_claims.c.worker_id, workers.c.beat_at >= cutoff)
        stale_resume = (call_claims.c.resuming == 1) & (call_claims.c.updated_at < cutoff)
        with self.engine.begin() as conn:
            rows = conn.execute(select(call_claims).where(~alive | stale_resume)).all()
        return [_claim(row) for row in rows]

    def take_over(self, claim: Claim, worker_id: str, lease_s: float) -> bool:
        """Make `claim` this worker's, if it still is what `orphans` saw and its owner is
        still not beating: one UPDATE, so two live workers never both take it."""
        cutoff = utc_now() - timedelta(seconds=lease_s)
        alive = exists().where(workers.c.id == claim.worker_id, workers.c.beat_at >= cutoff)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(call_claims)
                .where(
                    call_claims.c.call_key == claim.call_key,
                    call_claims.c.worker_id == claim.worker_id,
                    call_claims.c.updated_at == claim.updated_at,
                    ~alive if not claim.resuming else call_claims.c.resuming == 1,
                )
                .values(worker_id=worker_id, resuming=0, updated_at=utc_now())
            )
        return done.rowcount == 1

    def mark_resuming(self, call_key: str, worker_id: str) -> None:
        """A job was dispatched to the call's room: the next job there resumes it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(call_claims)
                .where(call_claims.c.call_key == call_key, call_claims.c.worker_id == worker_id)
                .values(resuming=1, updated_at=utc_now())
            )
