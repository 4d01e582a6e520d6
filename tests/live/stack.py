"""The real LiveKit stack on loopback: Redis, livekit-server and LiveKit's SIP service.

Each runs as a subprocess on free ports with its log in a file; `start_stack` waits until
each one answers (Redis PING, the server's HTTP port, a SIP OPTIONS) and stops them all at
the end. A start that fails names the server and ends with the tail of its log.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .webhooks import ServerEvents, receive_webhooks

BINARIES = ("redis-server", "livekit-server", "livekit-sip", "sipp")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HOST = "127.0.0.1"


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nobody listens on now (TCP by default, `socket.SOCK_DGRAM` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A loopback port free for both UDP and TCP (a SIP port)."""
    for _ in range(100):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        return port
    msg = "no port free for both UDP and TCP"
    raise RuntimeError(msg)


def free_udp_range(size: int) -> tuple[int, int]:
    """`size` consecutive UDP ports (an even first one) that are all free now, below the
    kernel's ephemeral range so that no port given out for port 0 lands in them."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    top = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    for _ in range(200):
        start = random.SystemRandom().randrange(10000, top - size) & ~1
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("0.0.0.0", port))
            return start, start + size - 1
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    msg = f"no {size} consecutive free UDP ports found"
    raise RuntimeError(msg)


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Server:
    """One running server process and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    argv: list[str] = field(default_factory=list)
    """How it was started: `kill()` then `start_again()` runs the same command."""

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbyes to anyone connected."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def start_again(self) -> None:
        """Run the same command again (same config, same ports), its output appended to the
        same log after a marker line; `stop()` then stops the new process."""
        assert self.proc.poll() is not None, f"{self.name} still runs"
        with self.log.open("ab") as out:
            out.write(f"--- {self.name} started again ---\n".encode())
            out.flush()
            self.proc = _popen(self.argv, out, self.log.parent)

    def stop(self) -> None:
        stop_process(self.proc)

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `ready` until it is true; fail with the log's tail if the server exits or
        `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                msg = f"{self.name} exited with {self.proc.returncode} before {what}"
                raise RuntimeError(f"{msg}; last lines of {self.log}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                msg = f"{self.name} not ready after {timeout:.0f} s ({what})"
                raise RuntimeError(f"{msg}; last lines of {self.log}:\n{tail(self.log)}")
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _popen(argv: list[str], out: IO[bytes], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
    )


def spawn(name: str, argv: list[str], log: Path) -> Server:
    with log.open("wb") as out:
        proc = _popen(argv, out, log.parent)
    return Server(name, proc, log, argv)


def spawn_configured(name: str, config: dict[str, Any], workdir: Path) -> Server:
    """`name --config <workdir>/<name>.yaml`, its log beside the config."""
    path = workdir / f"{name}.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return spawn(name, [name, "--config", str(path)], path.with_suffix(".log"))


@dataclass(frozen=True)
class Stack:
    """What tests need to reach the running stack."""

    http_url: str
    """livekit-server's HTTP/Twirp address, for `api.LiveKitAPI`."""
    ws_url: str
    """The same server as a WebSocket URL, for workers and `rtc.Room.connect`."""
    api_key: str
    api_secret: str = field(repr=False)
    sip_port: int
    """LiveKit's SIP service listens here on 127.0.0.1 (UDP and TCP)."""
    redis_port: int
    logs: dict[str, Path]
    """Each server's log file, by name: `redis`, `livekit-server`, `livekit-sip`."""
    events: ServerEvents
    """The server's webhooks (participant_joined/left, room_started/finished, ...)."""
    workdir: Path
    servers: dict[str, Server] = field(default_factory=dict, repr=False, compare=False)
    """The running processes by name, for tests that crash one (`kill_livekit`)."""

    def kill_livekit(self) -> None:
        """SIGKILL livekit-server; Redis and the SIP service go on."""
        self.servers["livekit-server"].kill()

    def restart_livekit(self) -> None:
        """Start the killed livekit-server again with the same config on the same ports;
        returns once its HTTP port answers (blocking: call it in a thread from async code)."""
        server = self.servers["livekit-server"]
        server.start_again()
        url = f"{self.http_url}/"
        server.wait_until(lambda: http_answers(url), f"{url} answers again", START_TIMEOUT_S)


# --- readiness probes --------------------------------------------------------------------


def redis_pings(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def sip_options_answered(port: int) -> bool:
    """Send one SIP OPTIONS over UDP; true when a 200 OK comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(0.5)
        local = sock.getsockname()[1]
        message = (
            f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{HOST}:{local}>;tag=probe\r\n"
            f"To: <sip:{HOST}:{port}>\r\n"
            f"Call-ID: probe-{uuid.uuid4().hex}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(message.encode(), (HOST, port))
            return sock.recv(4096).startswith(b"SIP/2.0 200")
        except OSError:
            return False


# --- the servers ---------------------------------------------------------------------------


def start_redis(workdir: Path, port: int) -> Server:
    argv = ["redis-server", "--port", str(port), "--bind", HOST]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    server = spawn("redis", argv, workdir / "redis.log")
    server.wait_until(lambda: redis_pings(port), "Redis answers PING", START_TIMEOUT_S)
    return server


def start_livekit(
    workdir: Path,
    port: int,
    redis_port: int,
    key: str,
    secret: str,
    webhook_url: str,
    *,
    udp_mux: bool = False,
) -> Server:
    """`udp_mux`: all participants' UDP through two ports, as LiveKit's sample configuration
    recommends for production (`rtc.udp_port`), instead of a port per peer connection from a
    range of 100 (enough for the tests; a burst of hundreds of participants exhausts it and
    the rest fall back to ICE over TCP, or fail where the client has no ICE-TCP)."""
    if udp_mux:
        mux_start, mux_end = free_udp_range(2)
        ports: dict[str, Any] = {"udp_port": f"{mux_start}-{mux_end}"}
    else:
        rtc_start, rtc_end = free_udp_range(100)
        ports = {"port_range_start": rtc_start, "port_range_end": rtc_end}
    config = {
        "port": port,
        "bind_addresses": [HOST],
        "rtc": {
            "tcp_port": free_port(),
            **ports,
            "node_ip": HOST,
            "use_external_ip": False,
            "enable_loopback_candidate": True,
        },
        "redis": {"address": f"{HOST}:{redis_port}"},
        "keys": {key: secret},
        "webhook": {"api_key": key, "urls": [webhook_url]},
        "logging": {"level": "info"},
    }
    server = spawn_configured("livekit-server", config, workdir)
    url = f"http://{HOST}:{port}/"
    server.wait_until(lambda: http_answers(url), f"{url} answers", START_TIMEOUT_S)
    return server


def start_sip(
    workdir: Path, sip_port: int, ws_url: str, redis_port: int, key: str, secret: str
) -> Server:
    rtp_start, rtp_end = free_udp_range(200)
    config = {
        "api_key": key,
        "api_secret": secret,
        "ws_url": ws_url,
        "redis": {"address": f"{HOST}:{redis_port}"},
        "sip_port": sip_port,
        "listen_ip": HOST,
        "use_external_ip": False,
        "nat_1_to_1_ip": HOST,
        "rtp_port": {"start": rtp_start, "end": rtp_end},
        # It refuses outbound dials (503 "cpu exhausted") while the whole machine was over
        # this share busy in its last 1 s sample (default 0.9): a shared 2-core test machine
        # gets there, and the tests are not measuring that.
        "max_cpu_utilization": 1.0,
        "health_port": 0,
        "prometheus_port": 0,
        "logging": {"level": "debug"},
    }
    server = spawn_configured("livekit-sip", config, workdir)
    server.wait_until(
        lambda: sip_options_answered(sip_port), "SIP OPTIONS answered", START_TIMEOUT_S
    )
    return server


@contextmanager
def start_stack(workdir: Path) -> Iterator[Stack]:
    """Redis, livekit-server and livekit-sip, ready, until the block ends."""
    key, secret = "live-test-key", secrets.token_hex(24)
    redis_port, http_port, sip_port = free_port(), free_port(), free_port_pair()
    ws_url = f"ws://{HOST}:{http_port}"
    with ExitStack() as servers:
        events = servers.enter_context(receive_webhooks(key, secret))
        redis = start_redis(workdir, redis_port)
        servers.callback(redis.stop)
        livekit = start_livekit(workdir, http_port, redis_port, key, secret, events.url)
        servers.callback(livekit.stop)
        sip = start_sip(workdir, sip_port, ws_url, redis_port, key, secret)
        servers.callback(sip.stop)
        yield Stack(
            http_url=f"http://{HOST}:{http_port}",
            ws_url=ws_url,
            api_key=key,
            api_secret=secret,
            sip_port=sip_port,
            redis_port=redis_port,
            logs={s.name: s.log for s in (redis, livekit, sip)},
            events=events,
            workdir=workdir,
            servers={s.name: s for s in (redis, livekit, sip)},
        )


def clean_env() -> dict[str, str]:
    """This process's environment without LiveKit's or the worker's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SIP_AGENT_"))}
