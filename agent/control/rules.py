"""Router actions for call control: `do = "hangup"`, `do = { transfer = { to = "…" } }`, …

Arguments are checked when the rules file loads, by a pydantic model per action. The action
runs in the background of the job (a transfer or a dial rings for longer than a handler may
take); its result arrives as an event of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from .. import dtmf
from ..actions import BASIC, Action, ActionFactory
from ..errors import ConfigError
from ..events import CallEvent, call_to_dict
from ..validation import FileModel, PlacedError
from .facade import CallControl

Strings = dict[StrictStr, StrictStr]
Seconds = StrictInt
"""Whole seconds, as LiveKit's API takes them."""


def _dtmf(digits: str) -> str:
    if bad := sorted({d for d in digits.upper() if d not in dtmf.DIGITS}):
        raise ValueError(f"digits must be 0-9, *, #, A-D, got {''.join(bad)!r}")
    return digits


class HangupArgs(FileModel):
    WHAT: ClassVar[str] = "hangup"
    headers: Strings | None = None


class HangupAllArgs(FileModel):
    WHAT: ClassVar[str] = "hangup_all"


class TransferArgs(FileModel):
    WHAT: ClassVar[str] = "transfer"
    to: StrictStr
    play_dialtone: StrictBool | None = None
    headers: Strings | None = None
    ringing_timeout: Seconds | None = None


class DialArgs(FileModel):
    WHAT: ClassVar[str] = "dial"
    to: StrictStr
    trunk: StrictStr
    from_number: StrictStr | None = None
    identity: StrictStr | None = None
    attributes: Strings | None = None
    headers: Strings | None = None
    wait_until_answered: StrictBool | None = None
    ringing_timeout: Seconds | None = None
    max_call_duration: Seconds | None = None
    dtmf: StrictStr | None = None


class DispatchAgentArgs(FileModel):
    WHAT: ClassVar[str] = "dispatch_agent"
    agent_name: StrictStr
    metadata: StrictStr | None = None
    metadata_from: Literal["headers", "attributes", "call"] | None = None


class SendDtmfArgs(FileModel):
    WHAT: ClassVar[str] = "send_dtmf"
    digits: Annotated[StrictStr, AfterValidator(_dtmf)]


T = TypeVar("T")
_ATTRIBUTES = TypeAdapter(Strings)


def _checked(validate: Callable[[Any], T], args: Any) -> T:
    """The arguments as written, or a PlacedError: `to: Field required`."""
    try:
        return validate({} if args is None else args)
    except ValidationError as exc:
        raise PlacedError.of(exc) from None


def _given(args: FileModel) -> dict[str, Any]:
    """The arguments the rule gave: LiveKit's defaults stay LiveKit's."""
    return args.model_dump(exclude_unset=True)


def _background(work: Callable[[CallControl], Coroutine[Any, Any, object]]) -> Action:
    async def run(event: CallEvent) -> None:
        ctl = CallControl.for_event(event)
        ctl.background(work(ctl))

    return run


def hangup(args: Any) -> Action:
    kwargs = _given(_checked(HangupArgs.model_validate, args))
    return _background(lambda ctl: ctl.hangup(**kwargs))


def hangup_all(args: Any) -> Action:
    _checked(HangupAllArgs.model_validate, args)
    return _background(lambda ctl: ctl.hangup_all())


def transfer(args: Any) -> Action:
    kwargs = _given(_checked(TransferArgs.model_validate, args))
    return _background(lambda ctl: ctl.transfer(**kwargs))


def dial(args: Any) -> Action:
    kwargs = _given(_checked(DialArgs.model_validate, args))
    return _background(lambda ctl: ctl.dial(**kwargs))


_METADATA_FROM: Mapping[str, Callable[[CallEvent], object]] = {
    "headers": lambda event: dict(event.call.headers),
    "attributes": lambda event: dict(event.call.attributes),
    "call": lambda event: call_to_dict(event.call),
}


def dispatch_agent(args: Any) -> Action:
    checked = _checked(DispatchAgentArgs.model_validate, args)
    source = checked.metadata_from
    if source is not None and checked.metadata is not None:
        raise ConfigError("takes `metadata` or `metadata_from`, not both")

    async def run(event: CallEvent) -> None:
        ctl = CallControl.for_event(event)
        metadata = checked.metadata or ""
        if source is not None:
            # JSON, as a voice agent reads its job metadata.
            metadata = json.dumps(_METADATA_FROM[source](event), sort_keys=True)
        ctl.background(ctl.dispatch_agent(checked.agent_name, metadata))

    return run


def send_dtmf(args: Any) -> Action:
    """`send_dtmf = "123#"` or `send_dtmf = { digits = "123#" }`."""
    given = {"digits": args} if isinstance(args, str) else args
    digits = _checked(SendDtmfArgs.model_validate, given).digits
    return _background(lambda ctl: ctl.send_dtmf(digits))


def set_attributes(args: Any) -> Action:
    """`set_attributes = { key = "value", ... }`: any keys, string values."""
    attributes = _checked(_ATTRIBUTES.validate_python, args)
    return _background(lambda ctl: ctl.set_attributes(attributes))


ACTIONS: Mapping[str, ActionFactory] = {
    **BASIC,
    "hangup": hangup,
    "hangup_all": hangup_all,
    "transfer": transfer,
    "dial": dial,
    "dispatch_agent": dispatch_agent,
    "send_dtmf": send_dtmf,
    "set_attributes": set_attributes,
}
"""Every action a rule can name: `call` and `log`, and the call-control ones."""
