"""The container and deployment files are well-formed and agree with the worker's settings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from livekit.agents.worker import DRAIN_TIMEOUT
from livekit.protocol import sip
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from agent.health import CHECK_TIMEOUT_S
from agent.server import SHUTDOWN_MARGIN_S
from agent.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent


def test_inbound_trunk_is_a_valid_livekit_request() -> None:
    """The trunk file parses as CreateSIPInboundTrunkRequest and copies headers to attributes."""
    text = (ROOT / "deploy/livekit/inbound-trunk.json").read_text()
    request = json_format.Parse(text, sip.CreateSIPInboundTrunkRequest())
    assert request.trunk.headers_to_attributes
    assert request.trunk.include_headers == sip.SIP_X_HEADERS


def test_dispatch_rule_sends_calls_to_this_worker() -> None:
    """The dispatch rule parses and its roomConfig.agents names the default agent name."""
    text = (ROOT / "deploy/livekit/dispatch-rule.json").read_text()
    request = json_format.Parse(text, sip.CreateSIPDispatchRuleRequest())
    agents = [a.agent_name for a in request.dispatch_rule.room_config.agents]
    assert agents == [Settings.model_fields["name"].default]
    assert request.dispatch_rule.rule.HasField("dispatch_rule_individual")


def test_dockerfile_copies_only_what_exists_and_starts_the_worker() -> None:
    """Every COPY source exists, passes .dockerignore, and the CMD is `python -m agent start`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    allowed = re.findall(r"^!(\S+?)/?$", (ROOT / ".dockerignore").read_text(), re.M)
    sources = re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M)
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, source
    assert 'CMD ["python", "-m", "agent", "start"]' in dockerfile
    assert image_user(dockerfile) > 0
    assert "HEALTHCHECK" in dockerfile


def image_user(dockerfile: str) -> int:
    """The final stage's USER, which must be a number (uid, or uid:gid)."""
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]} is a name: runAsNonRoot cannot verify it"
    return int(uid)


def kubernetes_pod() -> dict[str, Any]:
    docs = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/sip-agent.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_kubernetes_example_reads_secrets_and_probes_health() -> None:
    """The Deployment takes credentials from secrets (the store's optional), probes the
    health port within the health check's time, and scrapes metrics on the pod's address."""
    container = kubernetes_pod()["containers"][0]
    secrets = {s["secretRef"]["name"]: s["secretRef"] for s in container["envFrom"]}
    assert set(secrets) == {"sip-agent-livekit", "sip-agent-store"}
    assert not secrets["sip-agent-livekit"].get("optional")
    assert secrets["sip-agent-store"]["optional"] is True
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "health"
        assert container[probe]["timeoutSeconds"] > CHECK_TIMEOUT_S, probe
    env = {e["name"]: e["value"] for e in container["env"]}
    assert not any(name.startswith("LIVEKIT_API") for name in env)
    assert env["SIP_AGENT_METRICS_HOST"] == "0.0.0.0"
    assert {"name": "metrics", "containerPort": int(env["SIP_AGENT_METRICS_PORT"])} in (
        container["ports"]
    )


def test_kubernetes_grace_outlasts_the_drain() -> None:
    """SIGTERM drains for up to livekit-agents' drain timeout, then jobs get the handler
    timeout and margin to shut down: the kubelet's SIGKILL must come after all of it."""
    handler_timeout_s = Settings.model_fields["handler_timeout_s"].default
    shutdown = DRAIN_TIMEOUT + handler_timeout_s + SHUTDOWN_MARGIN_S
    assert kubernetes_pod()["terminationGracePeriodSeconds"] >= shutdown + 30


def test_kubernetes_example_meets_pod_security_restricted() -> None:
    """Pod Security "restricted": non-root by the image's own uid, RuntimeDefault seccomp,
    every capability dropped, no privilege escalation."""
    pod = kubernetes_pod()
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_user(_dockerfile())
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["allowPrivilegeEscalation"] is False


def _env_example() -> dict[str, str | None]:
    """.env.example's settings: name -> value given, or None when listed commented out."""
    found: dict[str, str | None] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line):
            found[match[2]] = None if match[1] else match[3]
    return found


def test_env_example_lists_every_setting() -> None:
    """Every setting appears in .env.example (given or commented out), and nothing else."""
    assert set(_env_example()) == {env_name(field) for field in Settings.model_fields}


def test_env_example_keeps_the_images_defaults() -> None:
    """`docker run --env-file .env` must not undo the image's settings: each one the
    Dockerfile sets is commented out in .env.example or given the same value (an empty
    value means "unset", which turned the image's metrics port off)."""
    image = dict(re.findall(r"^\s+(?:ENV )?(SIP_AGENT_\w+)=(\S+?)(?: \\)?$", _dockerfile(), re.M))
    assert {"SIP_AGENT_METRICS_PORT", "SIP_AGENT_METRICS_HOST"} <= set(image)
    example = _env_example()
    for name, value in image.items():
        assert example[name] in (None, value), name


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_the_lock_pins_every_dependency_within_pyproject() -> None:
    """requirements.lock (the image installs from it, hashes required) pins each dependency
    of pyproject.toml at a version its bound allows; regenerate it with the command in its
    header after changing a bound."""
    lock = (ROOT / "requirements.lock").read_text()
    pins = {
        canonicalize_name(name): Version(version)
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M)
    }
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert dependency.specifier.contains(pins[name]), f"{name}=={pins[name]}: {dependency}"
    assert "--require-hashes" in _dockerfile() and "COPY requirements.lock" in _dockerfile()
