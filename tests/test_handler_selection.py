"""A setting that configures a built-in handler turns it on; a handler list that leaves it
out stops start-up with one line naming both settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.handlers.selection import handler_names
from agent.settings import load_settings

RULES = Path(__file__).resolve().parent.parent / "examples" / "rules.toml"
SECRET = "whsec_" + "A" * 43 + "="


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what each test sets: no .env, no SIP_AGENT_* from the caller's shell."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SIP_AGENT_")]:
        monkeypatch.delenv(name)


def test_default_is_the_log() -> None:
    assert handler_names(load_settings()) == ("log",)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SIP_AGENT_RULES", str(RULES), ("log", "router")),
        ("SIP_AGENT_WEBHOOK_URLS", "http://127.0.0.1:9/hook", ("log", "webhook")),
        ("SIP_AGENT_DB_URL", "sqlite:///calls.db", ("log", "store")),
        ("SIP_AGENT_METRICS_PORT", "9100", ("metrics", "log")),
    ],
)
def test_a_setting_turns_its_handler_on(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: tuple[str, ...]
) -> None:
    """Rules run, webhooks are sent, the call log is written, metrics are counted."""
    monkeypatch.setenv(variable, value)
    assert handler_names(load_settings()) == expected


def test_everything_configured_in_delivery_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {
        "SIP_AGENT_RULES": str(RULES),
        "SIP_AGENT_WEBHOOK_URLS": "http://127.0.0.1:9/hook",
        "SIP_AGENT_WEBHOOK_SECRET": SECRET,
        "SIP_AGENT_DB_URL": "sqlite:///calls.db",
        "SIP_AGENT_METRICS_PORT": "9100",
    }.items():
        monkeypatch.setenv(variable, value)
    assert handler_names(load_settings()) == ("metrics", "log", "router", "store", "webhook")


@pytest.mark.parametrize(
    ("variable", "value", "handler"),
    [
        ("SIP_AGENT_RULES", str(RULES), "router"),
        ("SIP_AGENT_WEBHOOK_URLS", "http://127.0.0.1:9/hook", "webhook"),
        ("SIP_AGENT_WEBHOOK_SECRET", SECRET, "webhook"),
        ("SIP_AGENT_DB_URL", "sqlite:///calls.db", "store"),
        ("SIP_AGENT_METRICS_PORT", "9100", "metrics"),
    ],
)
def test_an_explicit_list_that_leaves_it_out_stops(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, handler: str
) -> None:
    monkeypatch.setenv("SIP_AGENT_HANDLERS", "log")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        handler_names(load_settings())
    message = str(caught.value)
    assert variable in message and "SIP_AGENT_HANDLERS=log" in message
    assert f"leaves out {handler!r}" in message and "\n" not in message
    assert "whsec_" not in message  # a secret's value is never shown


def test_an_explicit_list_that_names_it_is_kept_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_HANDLERS", "router,log,metrics")
    monkeypatch.setenv("SIP_AGENT_RULES", str(RULES))
    monkeypatch.setenv("SIP_AGENT_METRICS_PORT", "9100")
    assert handler_names(load_settings()) == ("router", "log", "metrics")
