"""The `router` handler: call logic as rules, in code or in a TOML file.

For each event, a router tries its rules in the order they were added (file order, or
decorator order in code) and runs only the FIRST rule whose `on` and `when` match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr, ValidationError

from ..actions import Action
from ..call import Call
from ..conditions import Condition, compile_condition
from ..control.rules import ACTIONS
from ..errors import ConfigError
from ..events import EVENT_TYPES, CallEvent
from ..settings import Settings
from ..validation import FileModel, FileProblem, OneOrMany, PlacedError, first_error, read_toml

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


def _event_type(on: str) -> str:
    known = (*EVENT_TYPES, ANY_EVENT)
    if on not in known:
        raise ValueError(f"unknown event type {on!r}; known: {', '.join(known)}")
    return on


def _check_event_type(on: str) -> str:
    try:
        return _event_type(on)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


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


def _one_action(do: Any) -> Any:
    """`do = "hangup"` is `do = { hangup = {} }` without arguments."""
    if isinstance(do, str):
        return {do: None}
    if not isinstance(do, dict) or len(do) != 1:
        msg = "an action name or a table with one action, as `{ transfer = { to = ... } }`"
        raise ValueError(f"{msg} (got {do!r})")
    return do


class RuleFile(FileModel):
    """One `[[rule]]` of a rules file, as written."""

    WHAT: ClassVar[str] = "a rule"

    on: Annotated[StrictStr, AfterValidator(_event_type)]
    do: Annotated[dict[StrictStr, Any], BeforeValidator(_one_action)]
    when: dict[StrictStr, OneOrMany[StrictStr]] | None = None
    name: StrictStr | None = None


class RulesFile(FileModel):
    WHAT: ClassVar[str] = "a rules file (rules are [[rule]] tables)"

    rule: list[RuleFile] = Field(default_factory=list)


def load_rules(path: Path) -> list[Rule]:
    """Parse a rules file; any mistake raises ConfigError naming the file, the rule
    (`rule[2]`, counted from 1) and the problem."""
    try:
        raw_rules = RulesFile.model_validate(read_toml(path)).rule
    except FileProblem as exc:
        raise ConfigError(f"rules file {path}: {exc}") from None
    except ValidationError as exc:
        place, problem = first_error(exc)
        raise ConfigError(f"rules file {path}: {place or 'rule'}: {problem}") from None
    rules = []
    for index, raw in enumerate(raw_rules, start=1):
        try:
            rules.append(_rule(raw, index))
        except ConfigError as exc:
            raise ConfigError(f"rules file {path}: rule[{index}].{exc}") from None
    return rules


def _rule(raw: RuleFile, index: int) -> Rule:
    """The rule's condition and action, built and checked; ConfigError says `when: ...` or
    `do: ...`."""
    try:
        condition = compile_condition(raw.when)
    except ConfigError as exc:
        raise ConfigError(f"when: {exc}") from None
    ((action_name, args),) = raw.do.items()
    if action_name not in ACTIONS:
        msg = f"do: unknown action {action_name!r}; known actions: {', '.join(sorted(ACTIONS))}"
        raise ConfigError(msg)
    try:
        action = ACTIONS[action_name](args)
    except PlacedError as exc:
        raise ConfigError(exc.under(f"do.{action_name}")) from None
    except ConfigError as exc:
        raise ConfigError(f"do.{action_name}: {exc}") from None
    name = raw.name or f"rule {index}: {action_name}"
    return Rule(on=raw.on, do=action, when=condition, name=name)
