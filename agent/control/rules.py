"""Router actions for call control: `do = "hangup"`, `do = { transfer = { to = "…" } }`, …

Arguments are checked when the rules file loads. The action runs in the background of the
job (a transfer or a dial rings for longer than a handler may take); its result arrives as
an event of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ..actions import BASIC, Action, ActionFactory
from ..errors import ConfigError
from ..events import CallEvent, call_to_dict
from .facade import CallControl

_STR = (str, "a string")
_BOOL = (bool, "true or false")
_INT = (int, "a whole number of seconds")
_TABLE = (dict, "a table of strings")

Spec = Mapping[str, tuple[tuple[type, str], bool]]
"""Field -> ((type, how to write it), required)."""


def _check(action: str, args: Any, spec: Spec) -> dict[str, Any]:
    if args is None:
        args = {}
    if not isinstance(args, dict):
        msg = f"`{action}` takes a table of {', '.join(spec)}, got {args!r}"
        raise ConfigError(msg)
    unknown = sorted(set(args) - set(spec))
    if unknown:
        msg = f"`{action}` has no field(s) {unknown}; its fields: {', '.join(spec)}"
        raise ConfigError(msg)
    for name, ((kind, wording), required) in spec.items():
        if name not in args:
            if required:
                raise ConfigError(f"`{action}` needs `{name}` ({wording})")
            continue
        value = args[name]
        valid = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is dict:
            valid = valid and all(isinstance(v, str) for v in value.values())
        if not valid:
            raise ConfigError(f"`{action}.{name}` must be {wording}, got {value!r}")
    return dict(args)


def _background(work: Callable[[CallControl], Coroutine[Any, Any, object]]) -> Action:
    async def run(event: CallEvent) -> None:
        ctl = CallControl.for_event(event)
        ctl.background(work(ctl))

    return run


def hangup(args: Any) -> Action:
    kwargs = _check("hangup", args, {"headers": (_TABLE, False)})
    return _background(lambda ctl: ctl.hangup(**kwargs))


def hangup_all(args: Any) -> Action:
    _check("hangup_all", args, {})
    return _background(lambda ctl: ctl.hangup_all())


def transfer(args: Any) -> Action:
    spec = {
        "to": (_STR, True),
        "play_dialtone": (_BOOL, False),
        "headers": (_TABLE, False),
        "ringing_timeout": (_INT, False),
    }
    kwargs = _check("transfer", args, spec)
    return _background(lambda ctl: ctl.transfer(**kwargs))


def dial(args: Any) -> Action:
    spec = {
        "to": (_STR, True),
        "trunk": (_STR, True),
        "from_number": (_STR, False),
        "identity": (_STR, False),
        "attributes": (_TABLE, False),
        "headers": (_TABLE, False),
        "wait_until_answered": (_BOOL, False),
        "ringing_timeout": (_INT, False),
        "max_call_duration": (_INT, False),
        "dtmf": (_STR, False),
    }
    kwargs = _check("dial", args, spec)
    return _background(lambda ctl: ctl.dial(**kwargs))


_METADATA_FROM: Mapping[str, Callable[[CallEvent], object]] = {
    "headers": lambda event: dict(event.call.headers),
    "attributes": lambda event: dict(event.call.attributes),
    "call": lambda event: call_to_dict(event.call),
}


def dispatch_agent(args: Any) -> Action:
    spec = {"agent_name": (_STR, True), "metadata": (_STR, False), "metadata_from": (_STR, False)}
    kwargs = _check("dispatch_agent", args, spec)
    source = kwargs.pop("metadata_from", None)
    if source is not None and source not in _METADATA_FROM:
        msg = f"`dispatch_agent.metadata_from` must be one of {', '.join(_METADATA_FROM)}"
        raise ConfigError(f"{msg}, got {source!r}")
    if source is not None and "metadata" in kwargs:
        raise ConfigError("`dispatch_agent` takes `metadata` or `metadata_from`, not both")

    async def run(event: CallEvent) -> None:
        ctl = CallControl.for_event(event)
        metadata = kwargs.get("metadata", "")
        if source is not None:
            # JSON, as a voice agent reads its job metadata.
            metadata = json.dumps(_METADATA_FROM[source](event), sort_keys=True)
        ctl.background(ctl.dispatch_agent(kwargs["agent_name"], metadata))

    return run


def send_dtmf(args: Any) -> Action:
    digits = args if isinstance(args, str) else _check("send_dtmf", args, {"digits": (_STR, True)})
    if isinstance(digits, dict):
        digits = digits["digits"]
    bad = sorted({d for d in digits.upper() if d not in "0123456789*#ABCD"})
    if bad:
        raise ConfigError(f"`send_dtmf` digits must be 0-9, *, #, A-D, got {''.join(bad)!r}")
    return _background(lambda ctl: ctl.send_dtmf(digits))


def set_attributes(args: Any) -> Action:
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        raise ConfigError(f"`set_attributes` takes a table of strings, got {args!r}")
    attributes = dict(args)
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
