"""The scenario file's shape as pydantic models: every value checked where it is written.

What the models cannot see alone (a step naming a call that is not in the room, an
`[expect]` for no call) is checked by `parse.py` as the story plays on paper.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from livekit import rtc
from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    Tag,
    model_validator,
)

from .. import dtmf
from ..outcome import EndedBy, EndReason, Outcome
from ..validation import FileModel, OneOrMany
from .answers import AnswerFile, Request

MAX_SECONDS = 86_400.0
"""A wait longer than a day is a typo (or `1e300`), not a scenario."""
TOP_KEYS = frozenset({"description", "rules", "answers", "calls", "steps", "expect"})
_KIND_NAMES = rtc.ParticipantKind.keys()
KINDS = tuple(name.removeprefix("PARTICIPANT_KIND_") for name in _KIND_NAMES)


def _one_of(known: tuple[str, ...], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")
        return value

    return AfterValidator(check)


def _dtmf(digits: str) -> str:
    if bad := sorted(set(digits) - dtmf.DIGITS):
        raise ValueError(f"not DTMF digits: {''.join(bad)!r} (use 0-9, *, #, A-D)")
    return digits


Text = Annotated[StrictStr, StringConstraints(min_length=1)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Strings = dict[StrictStr, StrictStr]
Reason = Annotated[StrictStr, _one_of(tuple(rtc.DisconnectReason.keys()), "disconnect reason")]
# The worker's own ends (JOB_ENDED) can be expected too, not only LiveKit's reasons.
EndReasons = tuple(sorted({*rtc.DisconnectReason.keys(), *EndReason}))
Kind = Annotated[StrictStr, AfterValidator(str.upper), _one_of(KINDS, "participant kind")]


class Table(FileModel):
    @classmethod
    def hint(cls, key: str) -> str:
        # TOML puts keys written after a [table] header into that table: a common slip.
        return " (top-level keys go above the first [table])" if key in TOP_KEYS else ""


class CallFile(Table):
    WHAT: ClassVar[str] = "a call"

    room: Text | None = None
    identity: Text | None = None
    kind: Kind = "SIP"
    attributes: Strings = Field(default_factory=dict)
    status: Text | None = None


class _StepFile(Table):
    note: StrictStr = ""


class JoinStep(_StepFile):
    WHAT: ClassVar[str] = "a join step"

    join: Text


class SetStep(_StepFile):
    WHAT: ClassVar[str] = "a set step"

    call: Text = Field(alias="set")
    attributes: Strings = Field(default_factory=dict)
    status: Text | None = None
    remove: OneOrMany[Text] = ()
    """`remove = "sip.callStatus"` is one key, as `remove = ["sip.callStatus"]`."""

    @model_validator(mode="after")
    def _changes_something(self) -> SetStep:
        if not (self.attributes or self.status or self.remove):
            raise ValueError("nothing to set: give attributes, status or remove")
        return self


class DtmfStep(_StepFile):
    WHAT: ClassVar[str] = "a dtmf step"

    call: Text = Field(alias="dtmf")
    digits: Annotated[Text, AfterValidator(_dtmf)]


class PublishStep(_StepFile):
    WHAT: ClassVar[str] = "a publish step"

    call: Text = Field(alias="publish")
    track: Literal["audio", "video"] = "audio"


class UnpublishStep(_StepFile):
    WHAT: ClassVar[str] = "an unpublish step"

    call: Text = Field(alias="unpublish")


class MuteStep(_StepFile):
    WHAT: ClassVar[str] = "a mute step"

    call: Text = Field(alias="mute")
    muted: StrictBool = True


class WaitStep(_StepFile):
    WHAT: ClassVar[str] = "a wait step"

    seconds: Seconds = Field(alias="wait")


class LeaveStep(_StepFile):
    WHAT: ClassVar[str] = "a leave step"

    call: Text = Field(alias="leave")
    reason: Reason = "CLIENT_INITIATED"


class DeleteRoomStep(_StepFile):
    WHAT: ClassVar[str] = "a delete_room step"

    room: Text = Field(alias="delete_room")


class ReconnectStep(_StepFile):
    WHAT: ClassVar[str] = "a reconnect step"

    room: Text = Field(alias="reconnect")
    back_after: Seconds = 3.0


VERBS = (
    "join", "set", "dtmf", "publish", "unpublish", "mute", "wait", "leave", "delete_room",
    "reconnect",
)  # fmt: skip


def verb(raw: Any) -> str | None:
    """The step's one verb; None (refused, with the verbs listed) for none or several."""
    verbs = [key for key in raw if key in VERBS] if isinstance(raw, dict) else []
    return verbs[0] if len(verbs) == 1 else None


StepFile = Annotated[
    Annotated[JoinStep, Tag("join")]
    | Annotated[SetStep, Tag("set")]
    | Annotated[DtmfStep, Tag("dtmf")]
    | Annotated[PublishStep, Tag("publish")]
    | Annotated[UnpublishStep, Tag("unpublish")]
    | Annotated[MuteStep, Tag("mute")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[LeaveStep, Tag("leave")]
    | Annotated[DeleteRoomStep, Tag("delete_room")]
    | Annotated[ReconnectStep, Tag("reconnect")],
    Discriminator(
        verb,
        custom_error_type="step_verb",
        custom_error_message=f"a step is a table with exactly one of {', '.join(VERBS)}",
    ),
]


class ExpectFile(Table):
    WHAT: ClassVar[str] = "expect"

    outcome: Outcome | None = None
    ended_by: EndedBy | None = None
    disconnect_reason: Annotated[StrictStr, _one_of(EndReasons, "disconnect reason")] | None = None
    events: tuple[StrictStr, ...] | None = None
    duration_s: Seconds | None = None
    ringing_s: Seconds | None = None
    talk_s: Seconds | None = None


class ScenarioFile(Table):
    WHAT: ClassVar[str] = "a scenario"

    description: StrictStr = ""
    rules: Text | None = None
    answers: dict[Request, OneOrMany[AnswerFile]] = Field(default_factory=dict)
    calls: dict[str, CallFile] = Field(default_factory=dict)
    steps: Annotated[list[StepFile], Field(min_length=1)]
    expect: dict[str, ExpectFile] = Field(default_factory=dict)
