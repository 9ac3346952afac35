"""The simulator in a process of its own, driven over its ``/_sim/*`` endpoints.

An in-process :class:`~nepse_ray.sim.server.Simulator` shares the GIL with its caller; when the caller is busy
(a test driver, a benchmark collecting thousands of results), the server's arrival timestamps are delayed
unevenly and its rate-limit accounting blames clients for the host's scheduling. Load tests and benchmarks use
:class:`SimulatorProcess`, which has the same surface (``base_url``, ``stats()``, ``configure()``,
``reset_stats()``, ``close()``, context manager)::

    with SimulatorProcess(seed=3, trades=100_000) as sim:
        ...
        assert sim.stats()["rate_limit_violations"] == 0

``SimulatorProcess(tls="incomplete-chain")`` serves HTTPS with the real site's incomplete chain
(:mod:`nepse_ray.sim.tls`); ``ca_bundle`` is then the private root to trust and ``aia_url`` the AIA endpoint.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from .config import SimConfig
from .tls import AIA_LINE, CHAIN_FILE, ROOT_LINE

# The child asks Linux to SIGTERM it when its parent dies (and checks it has not already), so a simulator never
# outlives a driver that was killed with SIGKILL.
_SERVE = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "    if os.getppid() != int(sys.argv[2]):\n"
    "        sys.exit(0)\n"
    "from nepse_ray.sim.config import SimConfig\n"
    "from nepse_ray.sim.server import serve\n"
    "sys.exit(serve(SimConfig.model_validate_json(sys.argv[1])))\n"
)
_BANNER = "listening on "


class SimulatorError(RuntimeError):
    """The simulator process could not start or stopped answering."""


class SimulatorProcess:
    """A NEPSE simulator in a child process. ``overrides`` are :class:`SimConfig` fields."""

    def __init__(self, config: SimConfig | None = None, *, startup_timeout: float = 60.0, **overrides: Any) -> None:
        base = config or SimConfig()
        self.config = SimConfig.model_validate({**base.model_dump(), **overrides}) if overrides else base
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, self.config.model_dump_json(), str(os.getpid())],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._http = requests.Session()
        self.base_url = self._read_banner(startup_timeout)
        #: With ``tls``: the private root to trust (``ca_bundle=``) and the AIA endpoint's URL; else ``None``.
        self.ca_bundle = self._read_line(ROOT_LINE) if self.config.tls else None
        self.aia_url = self._read_line(AIA_LINE) if self.config.tls else None
        self._http.trust_env = False  # REQUESTS_CA_BUNDLE would replace the verify below; proxies have no say
        self._http.verify = str(Path(self.ca_bundle).with_name(CHAIN_FILE)) if self.ca_bundle else True

    def _read_banner(self, timeout: float) -> str:
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if selector.select(timeout):
                line = self._process.stdout.readline().strip()
                if line.startswith(_BANNER):
                    return line.removeprefix(_BANNER)
        self.close()
        _, stderr = self._process.communicate(timeout=10)
        raise SimulatorError(f"the simulator process did not start: {stderr.strip()[-2000:] or 'no output'}")

    def _read_line(self, prefix: str) -> str:
        """The rest of the next line the child printed after its banner, which starts with ``prefix``."""
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith(prefix):
            self.close()
            raise SimulatorError(f"the simulator process printed {line!r} where {prefix!r} was expected")
        return line.removeprefix(prefix)

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None, base_url: str | None = None) -> Any:
        response = self._http.request(method, (base_url or self.base_url) + path, json=body, timeout=30)
        if response.status_code not in (200, 204):
            raise SimulatorError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    @property
    def pid(self) -> int:
        return self._process.pid

    def stats(self) -> dict[str, Any]:
        """The JSON of ``GET /_sim/stats``."""
        result: dict[str, Any] = self._json("GET", "/_sim/stats")
        return result

    def configure(self, **changes: Any) -> SimConfig:
        """Change faults, limits and so on while serving; returns the configuration now in force."""
        self.config = SimConfig.model_validate(self._json("POST", "/_sim/config", changes))
        return self.config

    def reset_stats(self) -> None:
        self._json("POST", "/_sim/reset-stats")

    def aia_fetches(self) -> int:
        """How many times the AIA endpoint served the intermediate (0 without ``tls``)."""
        if self.aia_url is None:
            return 0
        fetches: int = self._json("GET", "/stats", base_url=self.aia_url.rsplit("/", 1)[0])["fetches"]
        return fetches

    def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        self._http.close()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SimulatorProcess({self.base_url!r}, pid={self.pid})"
