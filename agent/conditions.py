"""Conditions over a call (`when = {...}`), shared by router rules in code and in TOML."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .call import Call
from .errors import ConfigError

_FIELDS: dict[str, Callable[[Call], str | None]] = {
    "direction": lambda c: c.direction.value,
    "from": lambda c: c.from_number,
    "to": lambda c: c.to_number,
    "trunk": lambda c: c.trunk_id,
    "rule": lambda c: c.rule_id,
    "status": lambda c: c.raw_status,
}
FIELD_NAMES = (*_FIELDS, "header.<name>", "attr.<name>")


def _getter(name: str) -> Callable[[Call], str | None]:
    if name in _FIELDS:
        return _FIELDS[name]
    prefix, _, key = name.partition(".")
    if key and prefix == "header":
        return lambda c: c.headers.get(key)
    if key and prefix == "attr":
        return lambda c: c.attributes.get(key)
    msg = f"unknown field {name!r} in `when`; known fields: {', '.join(FIELD_NAMES)}"
    raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """One field against one or more glob patterns; any pattern matching is enough."""

    field: str
    patterns: tuple[str, ...]
    get: Callable[[Call], str | None]

    def __call__(self, call: Call) -> bool:
        value = self.get(call)
        return value is not None and any(fnmatchcase(value, p) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Condition:
    """All field matches hold (an empty condition matches every call)."""

    matches: tuple[FieldMatch, ...] = ()

    def __call__(self, call: Call) -> bool:
        return all(match(call) for match in self.matches)


def compile_condition(when: Mapping[str, object] | None) -> Condition:
    """`{"direction": "inbound", "from": ["+1555*", "+1900*"]}` -> Condition."""
    if when is None:
        return Condition()
    if not isinstance(when, Mapping):
        msg = f"`when` must be a table of field = value, got {type(when).__name__}"
        raise ConfigError(msg)
    matches = []
    for name, value in when.items():
        patterns = (value,) if isinstance(value, str) else value
        if not isinstance(patterns, list | tuple) or not all(isinstance(p, str) for p in patterns):
            msg = f"`when` field {name!r} must be a string or a list of strings, got {value!r}"
            raise ConfigError(msg)
        matches.append(FieldMatch(name, tuple(patterns), _getter(name)))
    return Condition(tuple(matches))
