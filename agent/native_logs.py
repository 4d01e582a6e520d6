"""Whether LiveKit's native library hands its log records to Python (`SIP_AGENT_SDK_LOGS`).

The native library of livekit 1.1.21 (pinned by livekit-agents) forwards every record it
writes, debug and trace included, to Python once log capture is on, which the SDK always
turns on; Python then drops nearly all of them. Against a real livekit-server an idle room
wrote ~24 records a second, and formatting, batching and parsing them was about half of the
SDK's idle cost of a room (benchmarks/BENCHMARKS.md section 5). Newer native builds filter
at the source; this one can only capture everything or nothing.

`off` (the default) starts this process's FFI client with capture off and, unless `RUST_LOG`
is set, the native library's own logger off too, so no native line reaches the output
unscrubbed. `on` keeps the SDK's behaviour: native warnings and errors come through Python
logging, scrubbed like every other line.

Private SDK names relied on (livekit 1.1.21; tests/test_native_logs.py checks them):
`_ffi_client.get_ffi_lib`, `FfiClient._instance`, and `FfiClient.__init__` calling
`livekit_ffi_initialize(callback, capture_logs, sdk, version)` on the library it loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from livekit.rtc import _ffi_client
from livekit.rtc._ffi_client import FfiClient

logger = logging.getLogger(__name__)

RUST_LOG = "RUST_LOG"


def start_ffi_without_log_capture() -> bool:
    """Create this process's FFI client with log capture off; False (and a warning) if the
    client already exists, whose capture can no longer change."""
    if FfiClient._instance is not None:
        logger.warning("native SDK logs stay captured: LiveKit's FFI client already started")
        return False
    os.environ.setdefault(RUST_LOG, "off")
    load = _ffi_client.get_ffi_lib

    def load_without_capture() -> Any:
        lib: Any = load()
        lib.livekit_ffi_initialize = _without_capture(lib.livekit_ffi_initialize)
        return lib

    _ffi_client.get_ffi_lib = load_without_capture
    try:
        FfiClient.instance  # noqa: B018 (creates the singleton)
    finally:
        _ffi_client.get_ffi_lib = load
    return True


def _without_capture(initialize: Callable[..., Any]) -> Callable[..., Any]:
    def initialize_without_capture(callback: Any, capture_logs: bool, *rest: Any) -> Any:
        return initialize(callback, False, *rest)

    return initialize_without_capture
