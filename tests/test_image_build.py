"""The image builds with podman from a base made of Debian's packages, keeps its HEALTHCHECK,
runs as a numeric non-root user, and `simulate` plays a call inside it
(deploy/image/build-and-check.sh).

It takes ~7 minutes on a machine that never built it (the base's debootstrap 3.5 min, the
dependencies 3.5 min; 20 s after a code change), so the main run leaves it to .ci/run's
image step, which sets SIP_AGENT_TEST_IMAGE=1 and bounds it with a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy/image/build-and-check.sh"
TOOLS = ("podman", "runc", "debootstrap")

pytestmark = pytest.mark.skipif(
    os.environ.get("SIP_AGENT_TEST_IMAGE") != "1",
    reason="the image build runs in .ci/run's image step (SIP_AGENT_TEST_IMAGE=1)",
)


def test_the_image_builds_and_runs_a_call_as_a_numeric_user() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"apt-get install -y {' '.join(missing)}"
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEALTHCHECK kept, simulate ran" in result.stdout
    assert "user 10001:10001" in result.stdout
    print(result.stdout)  # the script's sizes and times, for the CI log
