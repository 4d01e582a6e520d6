"""Input files (scenarios, rules) read and checked by pydantic, reported our way: one line
naming where and what.

The files are pydantic models built on `FileModel`; `where` and `problem` turn the first
error pydantic found into `steps[2].wait` and a sentence.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails

from .errors import ConfigError

REPR_LIMIT = 60
_TABLE_WORDS = {
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}
"""pydantic's words for a wrong container, in the file's words (it names model classes)."""
"""A bad value is quoted in the message up to this many characters."""
T = TypeVar("T")


class FileProblem(ConfigError):
    """The file cannot be read as TOML; the caller names the file before the message."""


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML, or a FileProblem in one line (missing, not UTF-8, bad syntax)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileProblem(f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text (at byte offset {exc.start}): TOML files are UTF-8"
        raise FileProblem(msg) from None
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(f"invalid TOML: {exc}") from None


def _listed(value: Any) -> Any:
    return value if isinstance(value, list | tuple) else [value]


OneOrMany = Annotated[tuple[T, ...], BeforeValidator(_listed)]
"""A list, or one value standing for a list of one."""


class FileModel(BaseModel):
    """A table of a file: frozen, and an unknown key is refused naming the keys it takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    WHAT: ClassVar[str] = "this table"
    """How the message names the table: `a step`, `expect`, ..."""

    @classmethod
    def hint(cls, key: str) -> str:
        """Added to the unknown-key message: what the slip probably was."""
        return ""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [info.alias or name for name, info in cls.model_fields.items()]
            if unknown := sorted(str(key) for key in data if key not in known):
                msg = f"unknown key {unknown[0]!r}{cls.hint(unknown[0])}; {cls.WHAT} takes"
                raise ValueError(f"{msg} {', '.join(sorted(known))}")
        return data


def where(loc: tuple[str | int, ...]) -> str:
    """`("steps", 1, "wait", "wait")` -> `steps[2].wait`: list positions count from 1, as a
    reader of the file counts; a step's verb (its union tag) said once."""
    text = ""
    for previous, part in zip((None, *loc), loc, strict=False):
        if isinstance(part, int):
            text += f"[{part + 1}]"
        elif part not in ("[key]", previous):
            text += f".{part}" if text else part
    return text


def problem(error: ErrorDetails) -> str:
    """What is wrong, in a sentence, with the value when it is short enough to show."""
    ctx = error.get("ctx") or {}
    if error["type"] in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    message = _TABLE_WORDS.get(error["type"], error["msg"])
    value = error.get("input")
    if error["type"] != "missing" and isinstance(value, str | int | float):
        shown = repr(value)
        if len(shown) <= REPR_LIMIT:
            message += f" (got {shown})"
    return message


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(where, problem) of the first error: one clear line beats a wall of pydantic output."""
    error = exc.errors()[0]
    return where(error["loc"]), problem(error)


class PlacedError(ConfigError):
    """A problem at a place inside a value (`to`, `headers.X-Why`), for the caller to put
    after the place of the value itself (`rule[2].do.transfer`)."""

    def __init__(self, place: str, problem: str) -> None:
        super().__init__(f"{place}: {problem}" if place else problem)
        self.place = place
        self.problem = problem

    @classmethod
    def of(cls, exc: ValidationError) -> PlacedError:
        return cls(*first_error(exc))

    def under(self, outer: str) -> str:
        """The one line, placed under `outer`."""
        return f"{'.'.join(filter(None, (outer, self.place)))}: {self.problem}"
