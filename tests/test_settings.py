"""Settings: read once from the environment and .env, one clear line when wrong."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import ConfigError
from agent.settings import PhoneNumbers, load_settings, require_livekit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.name == "sip-agent"
    assert settings.handlers == ("log",)
    assert settings.phone_numbers is PhoneNumbers.MASKED


def test_prefixed_variables_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_NAME", "phones")
    monkeypatch.setenv("SIP_AGENT_HANDLERS", "log, router ,examples.handlers:on_call_ended")
    settings = load_settings()
    assert settings.name == "phones"
    assert settings.handlers == ("log", "router", "examples.handlers:on_call_ended")


def test_dotenv_file_is_read_and_empty_values_mean_unset(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "LIVEKIT_URL=wss://x.livekit.cloud\nSIP_AGENT_RULES=\nSIP_AGENT_METRICS_PORT=\n"
    )
    settings = load_settings()
    assert settings.livekit_url == "wss://x.livekit.cloud"
    assert settings.rules is None and settings.metrics_port is None


def test_malformed_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_HANDLER_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid setting SIP_AGENT_HANDLER_TIMEOUT_S:")
    assert "'soon'" in message and "\n" not in message


def test_bad_enum_lists_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_PHONE_NUMBERS", "hidden")
    with pytest.raises(ConfigError, match=r"SIP_AGENT_PHONE_NUMBERS.*'masked' or 'full'"):
        load_settings()


def test_missing_livekit_credentials_are_named() -> None:
    with pytest.raises(ConfigError, match="missing setting LIVEKIT_URL"):
        require_livekit(load_settings())


def test_secret_never_in_messages_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_SECRET", "s3cr3t-value")
    monkeypatch.setenv("SIP_AGENT_WEBHOOK_SECRET", "whsec_c2VjcmV0")
    settings = load_settings()
    assert "s3cr3t-value" not in repr(settings) and "whsec_c2VjcmV0" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "SIP_AGENT_WEBHOOK_URLS",
            "http://127.0.0.1:8000/ok,http://127.0.0.1:99999/hook",
            "URL 2 (127.0.0.1): the port must be a number from 1 to 65535",
        ),
        ("SIP_AGENT_WEBHOOK_URLS", "ftp://host/hook", "URL 1 (host): does not start with http://"),
        ("SIP_AGENT_WEBHOOK_URLS", "http:///hook", "URL 1: has no host"),
        ("SIP_AGENT_WEBHOOK_URLS", "127.0.0.1:8000/hook", "URL 1: does not start with http://"),
        ("SIP_AGENT_WEBHOOK_URLS", "http://h:0/hook", "URL 1 (h): the port must be a number"),
        ("SIP_AGENT_WEBHOOK_EVENTS", "call.started,call.begun", "unknown event type 'call.begun'"),
        ("SIP_AGENT_HANDLERS", "log,,log", "an empty item (two commas in a row, or one at an end)"),
        ("SIP_AGENT_HANDLERS", "log, store,log", "item 3 repeats item 1"),
        ("SIP_AGENT_NAME", " ", "must not be blank or start or end with spaces"),
        ("SIP_AGENT_ICE_SERVERS", "none,stun:10.0.0.1:3478", "`none` cannot be combined"),
        ("SIP_AGENT_ICE_SERVERS", "turn:10.0.0.1:3478", "item 1 is not `none` or a stun: URL"),
        ("SIP_AGENT_ICE_SERVERS", "stun:a:1,10.0.0.1:3478", "item 2 is not `none` or a stun:"),
        ("SIP_AGENT_SERVER_TARGET_LOAD", "1.5", "Input should be less than or equal to 1"),
        ("SIP_AGENT_SERVER_TARGET_LOAD", "0", "Input should be greater than 0"),
    ],
)
def test_settings_that_cannot_work_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    """A setting that passes its type but cannot work stops start-up in one line naming it."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {variable}: {problem}")
    assert "\n" not in message


@given(
    user=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12),
    password=st.text(st.characters(categories=["L", "N"]), min_size=4, max_size=20),
)
def test_credentials_in_urls_never_reach_the_message(user: str, password: str) -> None:
    """LIVEKIT_URL with user:password is refused; neither it nor a webhook URL's password
    or token is repeated in the message."""
    password = f"Pw9{password}"  # never a word the message itself has (`http`, `host`)
    for field, url in (
        ("livekit_url", f"wss://{user}:{password}@lk.example.com"),
        ("webhook_urls", f"http://{user}:{password}@hooks.example.com:0/in?token={password}"),
        ("webhook_urls", f"https://h.example.com/{password},https://h.example.com/{password}"),
        ("webhook_urls", f"{user}:{password}@h.example.com/in"),
    ):
        with pytest.raises(ConfigError) as info:
            load_settings(**{field: url})
        assert password not in str(info.value)
