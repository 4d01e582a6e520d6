"""The public surface is what `agent/__init__.py` says it is (as httpx checks its own)."""

import agent


def test_every_exported_name_exists_and_is_listed_once() -> None:
    assert len(set(agent.__all__)) == len(agent.__all__)
    for name in agent.__all__:
        assert getattr(agent, name) is not None, name


def test_what_a_handler_author_needs_is_exported() -> None:
    """Events, the call model, handlers, control and the worker entry, from one import."""
    for name in (
        "CallEvent",
        "CallEnded",
        "Call",
        "Outcome",
        "Handler",
        "Router",
        "control",
        "create_server",
        "main",
    ):
        assert name in agent.__all__, name
