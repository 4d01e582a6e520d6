"""Structured logging for the worker and the `log` handler, with structlog.

A logger is built from the settings and passed where it is needed: no global
configuration, so tests and several jobs in one process can each have their own.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from .scrub import ScrubRecords, scrub_processor, scrubber
from .settings import LogFormat, Settings


def make_logger(settings: Settings, stream: TextIO | None = None) -> Any:
    """A structlog logger writing one line per call to `stream` (stdout by default).

    JSON lines for `start` and log pipelines; aligned, readable lines for `dev`.
    """
    console = settings.log_format is LogFormat.CONSOLE
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False, pad_event_to=22)
        if console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    # Numbers hide in rooms (`call-_+1510…`) and identities (`sip_+1510…`), credentials in
    # URLs, control characters in attributes: every value of every line is scrubbed.
    processors: list[Processor] = [
        scrub_processor(scrubber(settings.phone_numbers)),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.format_exc_info,
        renderer,
    ]
    return structlog.wrap_logger(
        # One write per line (PrintLogger writes the newline apart): with many job threads
        # and livekit's own log handler on the same stdout, lines must not interleave.
        structlog.WriteLogger(stream or sys.stdout),
        processors=processors,
        # Debug lines are for developers reading the code, not for operators' pipelines.
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        context_class=dict,
        cache_logger_on_first_use=True,
    ).bind(logger="sip-agent")


def scrub_library_logs(settings: Settings) -> None:
    """The standard library's log handlers (livekit-agents' own lines, which name rooms,
    aiohttp's, which name URLs) scrub their lines as ours are. Call once the SDK has set up
    its logging."""
    scrub = scrubber(settings.phone_numbers)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubRecords) for f in handler.filters):
            handler.addFilter(ScrubRecords(scrub))
