"""A real Ray head node on loopback for tests: ``ray start --head`` with token auth, its own temp dir and a free port
for every port flag (and for the dashboard's and the autoscaler's own metrics endpoints, which Ray lists in the
Prometheus service-discovery file and would otherwise put on fixed ports shared by every head on the machine),
stopped by PID (raylet first, then the rest, then gcs_server), never with ``ray stop``.

>>> with ray_head({"RAY_metrics_report_interval_ms": "1000"}) as head:  # doctest: +SKIP
...     subprocess.run([..., "--address", head.gcs_address], env=head.env)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
PORT_FLAGS = ("--port", "--dashboard-port", "--ray-client-server-port", "--dashboard-agent-listen-port",
              "--dashboard-agent-grpc-port", "--metrics-export-port", "--node-manager-port", "--object-manager-port",
              "--runtime-env-agent-port")  # fmt: skip
#: Environment variables that place the dashboard's and the autoscaler's metrics endpoints (default 44227, 44217).
PORT_VARIABLES = ("DASHBOARD_METRIC_PORT", "AUTOSCALER_METRIC_PORT")
WORKER_PORTS = 40


@dataclasses.dataclass(frozen=True)
class Head:
    """A running head node: where to reach it (``ports`` by flag or variable), and the environment a client
    process needs (token auth on)."""

    temp_dir: str
    ports: Mapping[str, int]
    env: Mapping[str, str]

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.ports['--dashboard-port']}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.ports['--port']}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['--metrics-export-port']}/metrics"

    @property
    def session_dir(self) -> Path:
        """The session's directory: its logs and the Prometheus configuration Ray writes for it."""
        return Path(self.temp_dir) / "session_latest"

    @property
    def token(self) -> str:
        return Path(self.env["RAY_AUTH_TOKEN_PATH"]).read_text()


def _below_ephemeral() -> int:
    """The first port the kernel may hand out as a connection's source port: ports below it stay ours once free."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_block(size: int) -> int:
    """The first port of ``size`` consecutive free ports below the kernel's ephemeral range (where another
    process's outgoing connection could take one between this check and Ray's bind), and outside Ray's defaults."""
    high = _below_ephemeral() - size
    first = 11_000 + secrets.randbelow(max(1, high - 11_000))
    starts: list[int] = [*range(first, high, size), *range(11_000, first, size)]
    for begin in starts:
        try:
            for port in range(begin, begin + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return begin
    raise RuntimeError("no free block of ports below the ephemeral range")


def free_ports(count: int) -> list[int]:
    """``count`` free ports below the ephemeral range (see :func:`free_block`)."""
    first = free_block(count)
    return list(range(first, first + count))


def head_processes(temp_dir: str, gcs_address: str | None = None) -> list[int]:
    """PIDs of the processes whose command line names ``temp_dir`` or, given ``gcs_address``, the head's GCS address
    (Ray's client server names only the address): this head's and nobody else's."""
    marks = [temp_dir] + ([f"--address={gcs_address} "] if gcs_address else [])
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline + " " for mark in marks) and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def stop_head(temp_dir: str, gcs_address: str | None = None) -> None:
    """SIGTERM the raylet, then the rest, then gcs_server, each group given a few seconds before SIGKILL."""

    def named(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    pids = head_processes(temp_dir, gcs_address)
    raylet = [pid for pid in pids if named(pid) == "raylet"]
    gcs = [pid for pid in pids if named(pid) == "gcs_server"]
    terminate(raylet)
    terminate([pid for pid in head_processes(temp_dir, gcs_address) if pid not in gcs])
    terminate(gcs)


def terminate(pids: list[int], grace: float = 5.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def ray_head(head_env: Mapping[str, str] | None = None) -> Iterator[Head]:
    """Start a head node (``head_env`` added to its environment only) and stop it, with all its processes, after."""
    temp_dir = tempfile.mkdtemp(prefix="nrj-", dir="/tmp")
    token = Path(temp_dir) / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    gcs_address: str | None = None
    try:
        for attempt in range(3):  # a port found free can still be taken before Ray binds it: then new ports
            names = (*PORT_FLAGS, *PORT_VARIABLES)
            ports = dict(zip(names, free_ports(len(names)), strict=True))
            workers = free_block(WORKER_PORTS)
            command = [RAY, "start", "--head", "--temp-dir", temp_dir, "--node-ip-address", "127.0.0.1",
                       "--dashboard-host", "127.0.0.1", "--include-dashboard", "true", "--num-cpus", "2",
                       "--disable-usage-stats", "--min-worker-port", str(workers),
                       "--max-worker-port", str(workers + WORKER_PORTS - 1),
                       *(f"{flag}={ports[flag]}" for flag in PORT_FLAGS)]  # fmt: skip
            variables = {name: str(ports[name]) for name in PORT_VARIABLES}
            started = subprocess.run(command, env={**env, **variables, **(head_env or {})}, capture_output=True,
                                     text=True, timeout=120)  # fmt: skip
            gcs_address = f"127.0.0.1:{ports['--port']}"
            if started.returncode == 0 or "address already in use" not in started.stderr or attempt == 2:
                break
            stop_head(temp_dir, gcs_address)
        assert started.returncode == 0, started.stderr[-3000:]
        yield Head(temp_dir, ports, env)
    finally:
        stop_head(temp_dir, gcs_address)
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert head_processes(temp_dir, gcs_address) == []
