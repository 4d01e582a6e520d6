"""`python -m agent webhooks list|show|retry|drop`: the outbox's dead letters, for an
operator who fixed a receiver (see agent/webhooks/dead_letters.py).

Reads `SIP_AGENT_DB_URL` only (the shared outbox): no LiveKit credentials needed. URLs are
printed without credentials or query (tokens often ride there).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from .assembly import call_log_url
from .calls_cli import fail
from .database.migrate import migrated_engine
from .errors import ConfigError
from .webhooks.dead_letters import LISTED, DeadLetters, Selection
from .webhooks.outbox import Fate
from .webhooks.schema import OUTBOX
from .webhooks.sender import endpoint

webhooks_app = typer.Typer(
    no_args_is_help=True,
    help="Webhook dead letters (refused, or past SIP_AGENT_WEBHOOK_RETRY_FOR_S): list, "
    "show, retry, drop.",
)

_AGE = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}

DbOption = typer.Option(None, "--db", help="Database URL (default: SIP_AGENT_DB_URL).")
CallOption = typer.Option(None, "--call", help="A call key (CALL_...) or call id (SCL_...).")
UrlOption = typer.Option(None, "--url", help="Endpoints whose URL starts with this.")


def _ago(option: str, value: str | None) -> datetime | None:
    """`30m`, `2h`, `7d` before now."""
    if value is None:
        return None
    match = _AGE.match(value)
    if match is None:
        fail(f"{option} {value!r}: use an age like 30m, 2h or 7d")
        raise AssertionError("unreachable")
    return datetime.now(UTC) - timedelta(seconds=int(match[1]) * _SECONDS[match[2]])


def _open(db: str | None) -> DeadLetters:
    try:
        return DeadLetters(migrated_engine(call_log_url(db), OUTBOX))
    except ConfigError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"cannot open the webhook outbox (SIP_AGENT_DB_URL): {str(exc).splitlines()[0]}")
    raise AssertionError("unreachable")


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "url":
        return endpoint(value)
    if key == "rejected":
        return Fate(value).name.lower()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return " ".join(str(value).split())


def _chosen(row_id: int | None, call: str | None, url: str | None, **more: Any) -> Selection:
    """One id, or filters: an operator who named none meant none (`--all` says all)."""
    if row_id is not None and (call or url or any(more.values())):
        fail("give either a dead letter's id or filters, not both")
    return Selection(row_id=row_id, call=call, url_prefix=url, **more)


@webhooks_app.command("list")
def list_dead(
    call: str | None = CallOption,
    url: str | None = UrlOption,
    since: str | None = typer.Option(None, help="Events since: 30m, 2h, 7d ago."),
    db: str | None = DbOption,
) -> None:
    """Dead letters, oldest first, one line each."""
    selection = Selection(call=call, url_prefix=url, since=_ago("--since", since))
    rows = [[_cell(k, r[k]) for k in LISTED] for r in _open(db).listed(selection)]
    if not rows:
        typer.echo("no dead letters")
        return
    header = ["id", "created_at", "fate", *LISTED[3:]]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


@webhooks_app.command()
def show(
    row_id: int = typer.Argument(..., help="The id `list` shows."), db: str | None = DbOption
) -> None:
    """One dead letter: where it was going, why it stopped, and its body."""
    row = _open(db).one(row_id)
    if row is None:
        fail(f"no dead letter {row_id} in the webhook outbox", code=1)
        return
    for key, value in row.items():
        if key != "body":
            typer.echo(f"{('fate' if key == 'rejected' else key) + ':':<16}{_cell(key, value)}")
    typer.echo(f"body:           {row['body']}")


@webhooks_app.command()
def retry(
    row_id: int | None = typer.Argument(None, help="One dead letter's id."),
    call: str | None = CallOption,
    url: str | None = UrlOption,
    all_: bool = typer.Option(False, "--all", help="Every dead letter."),
    db: str | None = DbOption,
) -> None:
    """Send dead letters again (due now, a whole retry budget): after fixing the receiver."""
    if row_id is None and not (call or url or all_):
        fail("retry what? give an id, --call, --url or --all")
    count = _open(db).retry(_chosen(row_id, call, url))
    if row_id is not None and not count:
        fail(f"no dead letter {row_id} in the webhook outbox", code=1)
    typer.echo(f"{count} dead letter(s) due again; a running worker sends them")


@webhooks_app.command()
def drop(
    row_id: int | None = typer.Argument(None, help="One dead letter's id."),
    call: str | None = CallOption,
    url: str | None = UrlOption,
    older_than: str | None = typer.Option(None, help="Events older than: 30m, 2h, 7d."),
    db: str | None = DbOption,
) -> None:
    """Delete dead letters for good."""
    if row_id is None and not (call or url or older_than):
        fail("drop what? give an id, --call, --url or --older-than")
    before = _ago("--older-than", older_than)
    count = _open(db).drop(_chosen(row_id, call, url, before=before))
    if row_id is not None and not count:
        fail(f"no dead letter {row_id} in the webhook outbox", code=1)
    typer.echo(f"{count} dead letter(s) dropped")
