"""`python -m agent calls list|show|export`: the call log, for support and reporting.

Reads `SIP_AGENT_DB_URL` only: no LiveKit credentials needed.
"""

from __future__ import annotations

import csv
import enum
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from .assembly import call_log_url
from .errors import ConfigError
from .store import CallQuery, CallStore

calls_app = typer.Typer(no_args_is_help=True, help="The call log: list, show and export calls.")

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
LIST_COLUMNS = ("started_at", "call_key", "call_id", "twilio_call_sid", "direction", "from_number",
                "to_number", "status", "outcome", "duration_s")  # fmt: skip


class Format(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def fail(message: str, code: int = 2) -> None:
    """One line on stderr and an exit status (2: a usage or setting problem): what an
    operator reads in a crash loop."""
    typer.echo(f"sip-agent: {message}", err=True)
    raise typer.Exit(code)


def _since(value: str | None) -> datetime | None:
    """`30m`, `2h`, `7d` ago, or an ISO date/time (UTC when no zone is given)."""
    if not value:
        return None
    if match := _AGO.match(value):
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r}: use 30m, 2h, 7d or an ISO date like 2026-03-01T09:00")
        raise
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _open(db: str | None) -> CallStore:
    try:
        return CallStore.open(call_log_url(db))
    except ConfigError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"cannot open the call log (SIP_AGENT_DB_URL): {str(exc).splitlines()[0]}")
    raise AssertionError("unreachable")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


DbOption = typer.Option(None, "--db", help="Database URL (default: SIP_AGENT_DB_URL).")
SinceOption = typer.Option(None, help="Calls started since: 30m, 2h, 7d or an ISO date.")
FormatOption = typer.Option(Format.JSONL, "--format", help="csv or jsonl.")


@calls_app.command("list")
def list_calls(
    since: str | None = SinceOption,
    status: str | None = typer.Option(None, help="Last sip.callStatus (e.g. active, hangup)."),
    outcome: str | None = typer.Option(None, help="completed, busy, no-answer, canceled, failed."),
    number: str | None = typer.Option(None, help="A from or to number (masked or full)."),
    trunk: str | None = typer.Option(None, help="A SIP trunk id."),
    limit: int = typer.Option(50, help="At most this many calls, newest first."),
    unhealthy: bool = typer.Option(
        False, "--unhealthy", help="Agent missing, a long silence or a slow response."
    ),
    agent_missing: bool = typer.Option(
        False, "--agent-missing", help="No agent spoke within SIP_AGENT_AGENT_TIMEOUT_S."
    ),
    silence_over: float | None = typer.Option(
        None, "--silence-over", help="Longest silence over this many seconds."
    ),
    p95_over: float | None = typer.Option(
        None, "--p95-over", help="95th percentile response time over this many seconds."
    ),
    db: str | None = DbOption,
) -> None:
    """Calls, newest first, one line each."""
    if limit < 1:
        fail(f"--limit {limit}: give a number of calls, 1 or more")
    for name, seconds in (("--silence-over", silence_over), ("--p95-over", p95_over)):
        if seconds is not None and not seconds >= 0:
            fail(f"{name} {seconds}: give a number of seconds, 0 or more")
    query = CallQuery(
        _since(since),
        status,
        outcome,
        number,
        trunk,
        limit,
        unhealthy=unhealthy,
        agent_missing=agent_missing,
        silence_over_s=silence_over,
        p95_over_s=p95_over,
    )
    filtered = (
        unhealthy
        or agent_missing
        or any(
            v is not None for v in (since, status, outcome, number, trunk, silence_over, p95_over)
        )
    )
    rows = [[_cell(c[k]) for k in LIST_COLUMNS] for c in _open(db).calls(query)]
    if not rows:
        typer.echo("no calls match these filters" if filtered else "no calls in the call log")
        return
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(LIST_COLUMNS)]
    for line in [list(LIST_COLUMNS), *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _details(data: dict[str, Any]) -> str:
    """An event's own fields (not the call snapshot) as `key=value`; a status change as
    `old -> new`."""
    if data["type"] == "call.status_changed":
        return f"{data['previous_raw']} -> {data['raw']}"
    # The health block has lines of its own above the timeline.
    own = {k: v for k, v in data.items() if k not in ("type", "seq", "at", "call", "health")}
    if data["type"] == "call.started":
        own["status"] = data["call"]["raw_status"]
    return " ".join(
        f"{k}={json.dumps(v) if isinstance(v, dict | list) else v}"
        for k, v in own.items()
        if v is not None
    )


@calls_app.command()
def show(
    call_id: str = typer.Argument(
        ..., help="A call key (CALL_...), a LiveKit call id (SCL_...) or a Twilio CallSid."
    ),
    db: str | None = DbOption,
) -> None:
    """One call: its record and its whole timeline."""
    store = _open(db)
    call = store.find(call_id)
    if call is None:
        fail(f"no call {call_id!r} in the call log", code=1)
        return
    for key, value in call.items():
        if key not in ("last_seq", "health") and value not in (None, "{}"):
            typer.echo(f"{key + ':':<24}{_cell(value)}")
    if call.get("health"):
        typer.echo("health:")
        for key, value in json.loads(call["health"]).items():
            if value not in (None, [], 0) or key in ("agent_missing", "turns"):
                shown = json.dumps(value) if isinstance(value, list) else _cell(value)
                typer.echo(f"  {key + ':':<36}{shown}")
    typer.echo("timeline:")
    started = call["started_at"]
    for event in store.timeline(call["call_key"]):
        offset = (event["at"] - started).total_seconds()
        data = json.loads(event["data"])
        line = f"  {_cell(event['at'])}  +{offset:7.3f}s  #{event['seq']:<3} {event['type']:<22}"
        typer.echo(f"{line} {_details(data)}".rstrip())


@calls_app.command()
def export(
    format_: Format = FormatOption,
    since: str | None = SinceOption,
    outcome: str | None = typer.Option(None, help="Only calls with this outcome."),
    db: str | None = DbOption,
) -> None:
    """Every call (filtered), to stdout: one CSV row or JSON line per call."""
    query = CallQuery(since=_since(since), outcome=outcome, limit=None)
    writer: Any = None
    for call in _open(db).calls(query):
        plain = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in call.items()}
        if format_ is Format.JSONL:
            typer.echo(json.dumps(plain))
            continue
        if writer is None:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(plain))
            writer.writeheader()
        writer.writerow(plain)
