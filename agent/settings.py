"""Settings: one frozen object read once from the environment (and `.env`). Nothing else
in the package reads `os.environ`."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError
from .events import EVENT_TYPES

PREFIX = "SIP_AGENT_"
MAY_HOLD_SECRETS = frozenset(
    {"livekit_url", "livekit_api_secret", "db_url", "webhook_urls", "webhook_secret"}
)
"""Settings whose value is never repeated in an error: a password or token may be in it."""


class PhoneNumbers(enum.StrEnum):
    """How phone numbers appear in logs and the call log."""

    MASKED = "masked"
    FULL = "full"


class LogFormat(enum.StrEnum):
    AUTO = "auto"
    """JSON lines under `start`, readable console lines under `dev`."""
    JSON = "json"
    CONSOLE = "console"


class Executor(enum.StrEnum):
    LOOP = "loop"
    """Every job a task on the worker's event loop (agent/loop_executor.py)."""
    THREAD = "thread"
    """livekit-agents' thread executor: a thread and an event loop per job."""
    PROCESS = "process"
    """livekit-agents' process executor: a process per job."""

    @property
    def in_worker_process(self) -> bool:
        return self is not Executor.PROCESS


CommaList = Annotated[tuple[str, ...], NoDecode]


def _split(value: Any) -> Any:
    """`a, b` -> ("a", "b"); an empty item or one given twice is refused (`log,,log` would
    log every event twice)."""
    if not isinstance(value, str):
        return value
    parts = tuple(part.strip() for part in value.split(","))
    if "" in parts:
        raise ValueError("an empty item (two commas in a row, or one at an end)")
    for position, part in enumerate(parts):
        if part in parts[:position]:
            first = parts.index(part) + 1
            # Positions, not the item: a webhook URL may carry a token.
            raise ValueError(f"item {position + 1} repeats item {first}")
    return parts


def _not_blank(value: str) -> str:
    if value != value.strip() or not value:
        raise ValueError("must not be blank or start or end with spaces")
    return value


def _no_credentials(url: str) -> str:
    """LiveKit authenticates with the API key and secret; a user:password in the URL would
    only end up in logs. The message never repeats the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.username is not None or parts.password is not None:
        msg = "must not contain a user or password (LiveKit takes LIVEKIT_API_KEY/SECRET)"
        raise ValueError(msg)
    return url


def _webhook_urls(urls: tuple[str, ...]) -> tuple[str, ...]:
    """URLs the sender can POST to. A bad one is named by its place and host only: a user,
    password, path or query may hold a token."""
    for position, url in enumerate(urls, start=1):
        try:
            parts = urlsplit(url)
        except ValueError:
            raise ValueError(f"URL {position}: not a URL") from None
        try:
            port = parts.port
        except ValueError:
            port = 0
        named = f"URL {position}" + (f" ({parts.hostname})" if parts.hostname else "")
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{named}: does not start with http:// or https://")
        if not parts.hostname:
            raise ValueError(f"{named}: has no host")
        if port == 0:
            raise ValueError(f"{named}: the port must be a number from 1 to 65535")
    return urls


NO_ICE_SERVERS = "none"
SERVER_TARGET_LOAD = 0.7
"""livekit-server's `agents.target_load` unless its configuration sets another: it offers a
job to a worker only while the worker's reported load is under it (agent/capacity.py)."""


def _ice_servers(urls: tuple[str, ...]) -> tuple[str, ...]:
    """`none` alone, or STUN URLs; TURN needs credentials, which stay LiveKit's to give."""
    if NO_ICE_SERVERS in urls and len(urls) > 1:
        raise ValueError(f"`{NO_ICE_SERVERS}` cannot be combined with servers")
    for position, url in enumerate(urls, start=1):
        if url != NO_ICE_SERVERS and not url.startswith(("stun:", "stuns:")):
            msg = (
                f"item {position} is not `{NO_ICE_SERVERS}` or a stun: URL (TURN servers need"
                " credentials: leave the setting unset to use those LiveKit sends)"
            )
            raise ValueError(msg)
    return urls


def _event_types(types: tuple[str, ...]) -> tuple[str, ...]:
    if unknown := [name for name in types if name not in EVENT_TYPES]:
        raise ValueError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return types


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `SIP_AGENT_RULES=` in .env means "not set", as it would for a shell.
        env_ignore_empty=True,
        frozen=True,
    )

    livekit_url: str = Field("", validation_alias="LIVEKIT_URL")
    livekit_api_key: str = Field("", validation_alias="LIVEKIT_API_KEY")
    livekit_api_secret: SecretStr = Field(SecretStr(""), validation_alias="LIVEKIT_API_SECRET")

    name: str = Field("sip-agent", min_length=1)
    """Agent name for explicit dispatch; the dispatch rule's `roomConfig.agents` names it."""
    handlers: CommaList = ("log",)
    """Built-in handler names or `module:attribute` import paths, in delivery order."""
    handler_timeout_s: float = Field(5.0, gt=0)
    phone_numbers: PhoneNumbers = PhoneNumbers.MASKED
    log_format: LogFormat = LogFormat.AUTO
    rules: Path | None = None
    """TOML routing rules for the `router` handler."""
    hangup_grace_s: float = Field(2.0, ge=0)
    reconnect_grace_s: float = Field(20.0, ge=0)
    """Counted from `reconnected`; a server restart brought callers back up to 5.8 s after it
    (tests/live/test_server_restart.py), the SIP service's own reconnect can hang ~9 s."""
    no_call_timeout_s: float = Field(60.0, gt=0)
    executor: Executor = Executor.LOOP
    sdk_logs: bool = False
    """Whether LiveKit's native library hands its log records to Python (agent/native_logs.py)."""
    ice_servers: CommaList = ()
    """The job rooms' STUN servers: LiveKit's (unset), `none`, or stun: URLs (agent/ice.py)."""
    max_calls: int = Field(200, gt=0)
    server_target_load: float = Field(SERVER_TARGET_LOAD, gt=0, le=1)
    """livekit-server's `agents.target_load`: LiveKit sends no job to a worker whose load is at
    or over it, so the worker's load reaches it at `max_calls` (agent/capacity.py)."""
    health_port: int = Field(8081, ge=0, le=65535)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = Field("127.0.0.1", min_length=1)
    """Where /metrics listens: loopback outside a container (a laptop or shared host does not
    publish its metrics to the network unasked); the image sets 0.0.0.0, since a container's
    loopback is unreachable from the scraper."""
    action_timeout_s: float = Field(10.0, gt=0)
    db_url: str = "sqlite:///sip-agent.db"
    webhook_urls: CommaList = ()
    webhook_secret: SecretStr | None = None
    webhook_events: CommaList = ()
    webhook_twilio_fields: bool = False
    webhook_outbox_max: int = Field(100_000, gt=0)
    webhook_retry_for_s: float = Field(86_400.0, gt=0, allow_inf_nan=False)
    spool_dir: str = "sip-agent-spool"
    spool_max: int = Field(1_000_000, gt=0)
    silence_s: float = Field(15.0, ge=0, allow_inf_nan=False)
    """Dead air no voice agent should leave; with no caller speech known it also covers the
    caller talking while the agent listens, hence well above a long turn (0: off)."""
    agent_timeout_s: float = Field(10.0, ge=0, allow_inf_nan=False)
    """A voice agent greets within seconds of the answer: `call.agent_missing` (0: off)."""
    slow_response_s: float = Field(3.0, ge=0, allow_inf_nan=False)
    """Turns answered slower than this feel broken on a phone: `call.slow_response` (0: off)."""
    fleet_heartbeat_s: float = Field(2.0, gt=0)
    fleet_lease_s: float = Field(15.0, gt=0)
    """A worker silent this long is lost: its calls are taken over (more than twice the
    heartbeat, checked at start in agent/fleet/config.py)."""

    _split_lists = field_validator(
        "handlers", "webhook_urls", "webhook_events", "ice_servers", mode="before"
    )(_split)
    _name = field_validator("name")(_not_blank)
    _livekit_url = field_validator("livekit_url")(_no_credentials)
    _webhook_urls = field_validator("webhook_urls")(_webhook_urls)
    _webhook_events = field_validator("webhook_events")(_event_types)
    _ice_servers = field_validator("ice_servers")(_ice_servers)


def env_name(field: str) -> str:
    """The environment variable a settings field is read from."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return PREFIX + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad one raises ConfigError naming its variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = str(err["loc"][0]) if err["loc"] else ""
        field = next((f for f in Settings.model_fields if where in (f, env_name(f))), where)
        name = env_name(field) if field in Settings.model_fields else field
        ctx = err.get("ctx") or {}
        problem = str(ctx["error"]) if err["type"] == "value_error" else err["msg"]
        # Only the first problem: one clear line beats a wall of pydantic output.
        msg = f"invalid setting {name}: {problem}"
        if not isinstance(err.get("input"), dict) and field not in MAY_HOLD_SECRETS:
            msg += f" (got {err.get('input')!r})"
        raise ConfigError(msg) from None


def require_livekit(settings: Settings) -> None:
    """`start` and `dev` need LiveKit's URL and credentials."""
    for field in ("livekit_url", "livekit_api_key", "livekit_api_secret"):
        value = getattr(settings, field)
        if not (value.get_secret_value() if isinstance(value, SecretStr) else value):
            msg = f"missing setting {env_name(field)}: set it in the environment or in .env"
            raise ConfigError(msg)
    if not settings.livekit_url.startswith(("ws://", "wss://", "http://", "https://")):
        msg = (
            f"invalid setting LIVEKIT_URL: expected ws://, wss://, http:// or https://"
            f" (got {settings.livekit_url!r})"
        )
        raise ConfigError(msg)
