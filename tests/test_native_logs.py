"""SIP_AGENT_SDK_LOGS=false: LiveKit's native library stops handing log records to Python."""

from __future__ import annotations

import inspect
import subprocess
import sys

from livekit.rtc import _ffi_client
from livekit.rtc._ffi_client import FfiClient

# A fresh process: a room connects to a port nobody listens on, which makes the native
# library log (warnings about the failed signal connection); count what reaches Python.
SCRIPT = """
import asyncio, logging, sys
from livekit import rtc
from agent import native_logs

records = []
class Count(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger("livekit").addHandler(Count())
logging.getLogger("livekit").setLevel(logging.DEBUG)
if sys.argv[1] == "off":
    assert native_logs.start_ffi_without_log_capture()

async def main():
    room = rtc.Room()
    try:
        await asyncio.wait_for(room.connect("ws://127.0.0.1:9", "x"), 3)
    except Exception:
        pass
    await asyncio.sleep(1.5)  # the native side flushes its batches every second

asyncio.run(main())
print(sum(1 for r in records if r.name == "livekit" and ":" in r.getMessage()), flush=True)
import os
os._exit(0)  # the native library's teardown after a failed connect takes seconds
"""


def native_records(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_without_capture_no_native_record_reaches_python_and_with_it_some_do() -> None:
    assert native_records("on") > 0
    assert native_records("off") == 0


def test_the_private_sdk_names_relied_on_are_still_there() -> None:
    source = inspect.getsource(FfiClient.__init__)
    assert "self._ffi_lib = get_ffi_lib()" in source
    assert "livekit_ffi_initialize(\n            ffi_event_callback, True," in source
    assert callable(_ffi_client.get_ffi_lib)
    assert hasattr(FfiClient, "_instance")
