"""The `router` handler: call logic as rules, in code or in a TOML file.

For each event, a router tries its rules in the order they were added (file order, or
decorator order in code) and runs only the FIRST rule whose `on` and `when` match.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..actions import Action
from ..call import Call
from ..conditions import Condition, compile_condition
from ..control.rules import ACTIONS
from ..errors import ConfigError
from ..events import EVENT_TYPES, CallEvent
from ..settings import Settings

ANY_EVENT = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    on: str
    """An event type such as `call.started`, or `*` for every event."""
    do: Action
    when: Condition = field(default_factory=Condition)
    where: Callable[[Call], bool] | None = None
    """A predicate in code, for what `when` cannot say."""
    name: str = ""

    def matches(self, event: CallEvent) -> bool:
        if self.on != ANY_EVENT and self.on != event.type:
            return False
        return self.when(event.call) and (self.where is None or self.where(event.call))


def _check_event_type(on: object) -> str:
    known = (*EVENT_TYPES, ANY_EVENT)
    if not isinstance(on, str) or on not in known:
        msg = f"unknown event type {on!r} in `on`; known: {', '.join(known)}"
        raise ConfigError(msg)
    return on


class Router:
    """Runs the first matching rule's action for each event."""

    name = "router"

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: list[Rule] = list(rules)

    def on(
        self,
        event_type: str,
        *,
        when: Mapping[str, str | list[str]] | None = None,
        where: Callable[[Call], bool] | None = None,
    ) -> Callable[[Action], Action]:
        """Register `async def f(event)` for an event type and conditions over the call."""
        on = _check_event_type(event_type)
        condition = compile_condition(when)

        def register(fn: Action) -> Action:
            name = getattr(fn, "__qualname__", repr(fn))
            self.rules.append(Rule(on=on, do=fn, when=condition, where=where, name=name))
            return fn

        return register

    def match(self, event: CallEvent) -> Rule | None:
        return next((rule for rule in self.rules if rule.matches(event)), None)

    async def handle(self, event: CallEvent) -> None:
        rule = self.match(event)
        if rule is not None:
            await rule.do(event)

    async def aclose(self) -> None:
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> Router:
        rules = load_rules(settings.rules) if settings.rules is not None else []
        return cls(rules)


def load_rules(path: Path) -> list[Rule]:
    """Parse a rules file; any mistake raises ConfigError naming the file and the rule."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"rules file {path}: cannot read it: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"rules file {path}: invalid TOML: {exc}"
        raise ConfigError(msg) from None
    unknown_top = set(data) - {"rule"}
    if unknown_top:
        msg = f"rules file {path}: unknown table(s) {sorted(unknown_top)}; write rules as [[rule]]"
        raise ConfigError(msg)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        msg = f"rules file {path}: write rules as [[rule]] tables"
        raise ConfigError(msg)
    rules = []
    for index, raw in enumerate(raw_rules, start=1):
        where = f"rules file {path}: rule {index}"
        try:
            rules.append(_parse_rule(raw, index))
        except ConfigError as exc:
            on = raw.get("on") if isinstance(raw, dict) else None
            label = f" (on {on!r})" if isinstance(on, str) else ""
            raise ConfigError(f"{where}{label}: {exc}") from None
    return rules


def _parse_rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError("a rule must be a table")
    unknown = set(raw) - {"on", "when", "do", "name"}
    if unknown:
        msg = f"unknown key(s) {sorted(unknown)}; a rule has on, when, do and an optional name"
        raise ConfigError(msg)
    if "on" not in raw or "do" not in raw:
        raise ConfigError("a rule needs `on` (an event type) and `do` (an action)")
    on = _check_event_type(raw["on"])
    condition = compile_condition(raw.get("when"))
    do = raw["do"]
    if isinstance(do, str):
        action_name, args = do, None
    elif isinstance(do, dict) and len(do) == 1:
        ((action_name, args),) = do.items()
    else:
        msg = f"`do` must be an action name or a table with one action, got {do!r}"
        raise ConfigError(msg)
    if action_name not in ACTIONS:
        msg = f"unknown action {action_name!r}; known actions: {', '.join(sorted(ACTIONS))}"
        raise ConfigError(msg)
    action = ACTIONS[action_name](args)
    name = raw.get("name", f"rule {index}: {action_name}")
    return Rule(on=on, do=action, when=condition, name=str(name))
