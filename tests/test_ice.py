"""The job room's peer connection (agent/ice.py): gathered once, and the STUN servers that
SIP_AGENT_ICE_SERVERS names, as the SDK receives them. The live proof that `none` starts no
name lookups is tests/live/test_ice_servers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit import rtc

from agent.assembly import Mode, assemble
from agent.ice import UNANSWERED_STUN, listener_rtc
from agent.settings import load_settings


@pytest.fixture(autouse=True)
def no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def urls(config: rtc.RtcConfiguration) -> list[list[str]]:
    return [list(server.urls) for server in config.ice_servers]


def test_unset_leaves_the_servers_to_livekit() -> None:
    config = listener_rtc(load_settings().ice_servers)
    assert urls(config) == []  # the SDK then takes the join response's servers
    assert config.continual_gathering_policy == rtc.ContinualGatheringPolicy.GATHER_ONCE


def test_none_is_an_address_that_needs_no_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_ICE_SERVERS", "none")
    config = listener_rtc(load_settings().ice_servers)
    assert urls(config) == [[UNANSWERED_STUN]]
    assert UNANSWERED_STUN == "stun:127.0.0.1:9"  # an IP literal: nothing to resolve


def test_own_stun_servers_replace_livekits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_ICE_SERVERS", "stun:10.0.0.53:3478, stun:10.0.0.54:3478")
    config = listener_rtc(load_settings().ice_servers)
    assert urls(config) == [["stun:10.0.0.53:3478", "stun:10.0.0.54:3478"]]


def test_the_worker_configuration_carries_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_AGENT_ICE_SERVERS", "none")
    config = assemble(Mode.SIMULATE)
    assert urls(config.rtc_config) == [[UNANSWERED_STUN]]
