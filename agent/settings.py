"""Settings: one frozen object read once from the environment (and `.env`). Nothing else
in the package reads `os.environ`."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError

PREFIX = "SIP_AGENT_"


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
    THREAD = "thread"
    PROCESS = "process"


CommaList = Annotated[tuple[str, ...], NoDecode]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


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
    executor: Executor = Executor.THREAD
    max_calls: int = Field(200, gt=0)
    health_port: int = Field(8081, ge=0, le=65535)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    action_timeout_s: float = Field(10.0, gt=0)
    db_url: str = "sqlite:///sip-agent.db"
    webhook_urls: CommaList = ()
    webhook_secret: SecretStr | None = None
    webhook_events: CommaList = ()
    webhook_twilio_fields: bool = False
    webhook_outbox_max: int = Field(100_000, gt=0)
    fleet_heartbeat_s: float = Field(2.0, gt=0)
    fleet_lease_s: float = Field(15.0, gt=0)
    """A worker silent this long is lost: its calls are taken over (more than twice the
    heartbeat, checked at start in agent/fleet/config.py)."""

    _split_lists = field_validator("handlers", "webhook_urls", "webhook_events", mode="before")(
        _split
    )


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
        field = str(err["loc"][0]) if err["loc"] else ""
        name = env_name(field) if field in Settings.model_fields else field
        # Only the first problem: one clear line beats a wall of pydantic output.
        msg = f"invalid setting {name}: {err['msg']}"
        if not isinstance(err.get("input"), dict) and "secret" not in field:
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
