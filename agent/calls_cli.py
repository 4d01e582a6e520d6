"""`python -m agent calls list|show|tail|export`: the call log, for support and reporting.

Reads `SIP_AGENT_DB_URL` only: no LiveKit credentials needed.
"""

from __future__ import annotations

import csv
import enum
import json
import re
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from .assembly import call_log_url
from .errors import ConfigError
from .store import CallQuery, CallStore
from .webhooks.deliveries import DeliveryReport, call_deliveries

calls_app = typer.Typer(no_args_is_help=True, help="The call log: list, show and export calls.")

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
LIST_COLUMNS = ("started_at", "call_key", "call_id", "twilio_call_sid", "direction", "from_number",
                "to_number", "status", "outcome", "duration_s")  # fmt: skip
HEADINGS = ("started (UTC)", "call key", "call id", "twilio sid", "dir", "from", "to", "status",
            "outcome", "duration")  # fmt: skip
LONG_ID = 20
"""Ids longer than this are shortened in tables (`CA1a2b3c4d…9f0e`); `--json` has them whole."""
TAIL_POLL_S = 1.0
TAIL_OVERLAP = timedelta(seconds=60)
"""Each look reaches this far before the last one: events are written a little after they
happen, and a call that ended meanwhile must still be seen ending."""


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


def _short(value: Any) -> str:
    text = _cell(value)
    return f"{text[:10]}…{text[-4:]}" if len(text) > LONG_ID else text


def _duration(seconds: float | None) -> str:
    """`34s`, `2m05s`, `1h02m`: what a person reads at a glance."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _row(call: dict[str, Any]) -> list[str]:
    """A call as `calls list` shows it in a terminal."""
    cells = [_cell(call[k]) for k in LIST_COLUMNS[:-1]]
    cells[2:4] = [_short(call["call_id"]), _short(call["twilio_call_sid"])]
    return [*cells, _duration(call["duration_s"])]


def _plain(call: dict[str, Any]) -> dict[str, Any]:
    """A call with its times as ISO text: one JSON line."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in call.items()}


DbOption = typer.Option(None, "--db", help="Database URL (default: SIP_AGENT_DB_URL).")
SinceOption = typer.Option(None, help="Calls started since: 30m, 2h, 7d or an ISO date.")
FormatOption = typer.Option(Format.JSONL, "--format", help="csv or jsonl.")
JsonOption = typer.Option(False, "--json", help="One JSON object per line, every value whole.")


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
    json_: bool = JsonOption,
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
    found = list(_open(db).calls(query))
    if json_:
        for call in found:
            typer.echo(json.dumps(_plain(call)))
        return
    if not found:
        typer.echo("no calls match these filters" if filtered else "no calls in the call log")
        return
    rows = [_row(c) for c in found]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(HEADINGS)]
    for line in [list(HEADINGS), *rows]:
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
    """One call: its record, health, whole timeline and webhook deliveries."""
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
    _print_deliveries(call_deliveries(call_log_url(db), call["call_key"]))


def _print_deliveries(deliveries: list[DeliveryReport]) -> None:
    """Per endpoint (no credentials, no query): each event, its state, the last try and
    the answer."""
    if not deliveries:
        typer.echo("webhooks: none queued or sent")
        return
    typer.echo("webhooks:")
    shown = None
    for d in deliveries:
        if d.endpoint != shown:
            typer.echo(f"  {d.endpoint}")
            shown = d.endpoint
        tries = f"{d.attempts} tr{'y' if d.attempts == 1 else 'ies'}"
        line = f"    #{d.seq:<3} {d.event_type:<22} {d.state:<9} {_cell(d.at)}  {tries:<9}"
        typer.echo(f"{line} {d.answer or ''}".rstrip())


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
        plain = _plain(call)
        if format_ is Format.JSONL:
            typer.echo(json.dumps(plain))
            continue
        if writer is None:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(plain))
            writer.writeheader()
        writer.writerow(plain)


class _Stop:
    """Set by SIGTERM or Ctrl-C: `calls tail` ends its loop and exits 0. Ctrl-C sets it
    rather than raising KeyboardInterrupt wherever the loop happens to be (inside a database
    call, the driver and the pool deal with it as they may); a SIGINT the process was started
    ignoring (a background job) stays ignored, as Python leaves it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: self.event.set())
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, lambda *_: self.event.set())


def _changes(before: dict[str, Any] | None, call: dict[str, Any]) -> list[str]:
    """What happened to a call since the last look: started, answered, ended."""
    seen = before or {}
    steps = [] if before else ["started"]
    if call["answered_at"] and not seen.get("answered_at"):
        steps.append("answered")
    if call["ended_at"] and not seen.get("ended_at"):
        steps.append("ended")
    return steps


def _tail_line(step: str, call: dict[str, Any]) -> str:
    at = {"started": call["started_at"], "answered": call["answered_at"]}.get(step)
    line = (
        f"{_cell(at or call['ended_at'])}  {step:<8} {call['call_key']}  "
        f"{_short(call['call_id'])}  {call['direction']}  "
        f"{_cell(call['from_number'])} -> {_cell(call['to_number'])}"
    )
    if step == "ended":
        line += f"  {_cell(call['outcome'])} {_duration(call['duration_s'])}"
    return line


@calls_app.command()
def tail(
    json_: bool = JsonOption,
    for_s: float | None = typer.Option(
        None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    db: str | None = DbOption,
) -> None:
    """Follow calls as they happen: each call's start, answer and end, once a second."""
    store = _open(db)
    stop = _Stop()
    started = datetime.now(UTC)
    seen = {c["call_key"]: c for c in store.current(started - TAIL_OVERLAP)}
    typer.echo("following the call log (Ctrl-C to stop)", err=True)
    ends_at = None if for_s is None else started + timedelta(seconds=for_s)
    while not stop.event.wait(TAIL_POLL_S):
        looked = store.current(datetime.now(UTC) - TAIL_OVERLAP)
        for call in looked:
            for step in _changes(seen.get(call["call_key"]), call):
                typer.echo(
                    json.dumps({"event": step, "call": _plain(call)})
                    if json_
                    else _tail_line(step, call)
                )
        # Calls that left the window are done: keep only what the next look may see.
        seen = {c["call_key"]: c for c in looked}
        if ends_at is not None and datetime.now(UTC) >= ends_at:
            return
