"""Which handlers run: `SIP_AGENT_HANDLERS`, and the built-ins other settings turn on.

A setting that configures a built-in handler is a request for it: rules without the router,
webhook URLs without the webhook handler would silently do nothing. Where
`SIP_AGENT_HANDLERS` is given and leaves such a handler out, start-up stops and names both.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from ..settings import Settings, env_name

TURNED_ON_BY: Mapping[str, tuple[str, ...]] = {
    "metrics": ("metrics_port",),
    "router": ("rules",),
    "store": ("db_url",),
    "webhook": ("webhook_urls", "webhook_secret", "webhook_events"),
}
"""Built-in handler -> the settings that configure it (given means wanted). `metrics` comes
first in the order: counting must not wait behind a slow handler."""


def _given(settings: Settings, field: str) -> bool:
    return field in settings.model_fields_set and getattr(settings, field) not in (None, (), "")


def handler_names(settings: Settings) -> tuple[str, ...]:
    """The handlers to run, in delivery order; ConfigError when the list contradicts a
    setting that only a left-out handler reads."""
    listed = settings.handlers
    explicit = "handlers" in settings.model_fields_set
    first: list[str] = []
    last: list[str] = []
    for name, fields in TURNED_ON_BY.items():
        given = [f for f in fields if _given(settings, f)]
        if not given or name in listed:
            continue
        if explicit:
            msg = (
                f"{env_name(given[0])} is set but SIP_AGENT_HANDLERS={','.join(listed)} leaves"
                f" out {name!r}, so it would do nothing: add {name} to SIP_AGENT_HANDLERS"
                f" or unset {env_name(given[0])}"
            )
            raise ConfigError(msg)
        (first if name == "metrics" else last).append(name)
    return (*first, *listed, *last)
