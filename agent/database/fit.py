"""Values a column cannot take, made into ones it can: one odd attribute must not cost a
call's row (PostgreSQL refuses NUL in text and a string longer than its column).

A cut value ends in a digest of the whole, so two long ids that share a prefix stay two
rows; the original stays whole in the call's timeline (JSON, which escapes NUL)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import String, Table

DIGEST = 12


def fit(value: str, length: int | None) -> str:
    """`value` without NUL and at most `length` characters."""
    clean = value.replace("\x00", "")
    if length is None or len(clean) <= length:
        return clean
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST]
    return f"{clean[: length - DIGEST - 1]}~{digest}"


def fit_row(table: Table, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The row with every string fitted to its column, and the columns that changed."""
    fitted = dict(row)
    changed = []
    for name, value in row.items():
        if not isinstance(value, str) or name not in table.c:
            continue
        column_type = table.c[name].type
        length = column_type.length if isinstance(column_type, String) else None
        new = fit(value, length)
        if new != value:
            fitted[name] = new
            changed.append(name)
    return fitted, changed
