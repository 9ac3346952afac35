"""Running the simulator: :func:`serve` for the command line, :class:`Simulator` in-process.

``Simulator`` runs the aiohttp app on its own event loop in a daemon thread, on a free port of 127.0.0.1 by
default, and talks to it through that loop, so tests and the demo can change faults or read counters while
clients hammer it::

    with Simulator(seed=3, trades=5_000, rate_limit=None) as sim:
        requests.get(sim.base_url + "/api/authenticate/prove", headers={"Referer": sim.base_url})
        sim.configure(fault_5xx=0.2)
        print(sim.stats()["requests_total"])

With ``tls="incomplete-chain"`` (a :class:`SimConfig` field) it serves HTTPS with the real site's incomplete
certificate chain (:mod:`nepse_ray.sim.tls`); ``sim.ca_bundle`` is then the private root a client must trust.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from .app import SimServer, make_app
from .auth import Grant
from .config import SimConfig
from .tls import TLSSite

T = TypeVar("T")

#: Seconds a stopping server waits for requests in flight.
SHUTDOWN_TIMEOUT = 1.0


async def start(server: SimServer, tls: TLSSite | None = None) -> tuple[web.AppRunner, str]:
    """Start serving ``server`` on its configured address, over HTTPS with ``tls``; returns the runner and base URL."""
    runner = web.AppRunner(make_app(server), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    config = server.config
    site = web.TCPSite(runner, config.host, config.port, ssl_context=None if tls is None else tls.ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{'http' if tls is None else 'https'}://{f'[{host}]' if ':' in host else host}:{port}"


def serve(config: SimConfig) -> int:
    """Serve until SIGINT or SIGTERM. The first line on stdout is ``listening on http://HOST:PORT``; with ``tls``,
    ``https://``, then the lines of :meth:`TLSSite.banner` (the root to trust, the AIA URL)."""
    return asyncio.run(_serve(config))


async def _serve(config: SimConfig) -> int:
    tls_site = None if config.tls is None else await TLSSite.start(config.tls, config.host)
    runner, base_url = await start(SimServer(config), tls_site)
    # The market is hundreds of thousands of long-lived objects; a full collection walking them pauses the loop
    # for tens of milliseconds, which would skew arrival times and the per-token rate accounting. Freeze them.
    gc.collect()
    gc.freeze()
    print(f"listening on {base_url}", flush=True)
    if tls_site is not None:
        print(tls_site.banner(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if tls_site is not None:
            await tls_site.close()
    return 0


class Simulator:
    """A NEPSE simulator on a background thread. ``overrides`` are :class:`SimConfig` fields."""

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        base = config or SimConfig()
        self._server = SimServer(SimConfig.model_validate({**base.model_dump(), **overrides}) if overrides else base)
        self._tls: TLSSite | None = None
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._closed = False
        ready: asyncio.Future[str] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="nepse-sim", daemon=True)
        self._thread.start()
        try:
            self.base_url = asyncio.run_coroutine_threadsafe(self._wait(ready), self._loop).result(timeout=30)
        except BaseException:
            self.close()  # e.g. the port is taken: stop the thread rather than leak it
            raise

    def _run(self, ready: asyncio.Future[str]) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.create_task(self._start(ready))
        self._loop.run_forever()

    async def _start(self, ready: asyncio.Future[str]) -> None:
        try:
            config = self._server.config
            if config.tls is not None:
                self._tls = await TLSSite.start(config.tls, config.host)
            self._runner, base_url = await start(self._server, self._tls)
        except Exception as error:
            ready.set_exception(error)
            return
        ready.set_result(base_url)

    @staticmethod
    async def _wait(ready: asyncio.Future[str]) -> str:
        return await ready

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop (where all its state lives) and return its result."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    @property
    def config(self) -> SimConfig:
        """The configuration in force (``configure`` and ``POST /_sim/config`` replace it)."""
        return self._server.config

    def stats(self) -> dict[str, Any]:
        """The same JSON as ``GET /_sim/stats``."""
        return self._call(self._server.snapshot)

    def configure(self, **changes: Any) -> SimConfig:
        """Change faults, limits, the clock offset and so on while serving; returns the new config."""
        return self._call(lambda: self._server.configure(**changes))

    def reset_stats(self) -> None:
        self._call(self._server.stats.reset)

    @property
    def ca_bundle(self) -> str | None:
        """With ``tls``: the file of the private root to trust (``ca_bundle=``); ``None`` for plain HTTP."""
        return None if self._tls is None else str(self._tls.ca_bundle)

    def aia_fetches(self) -> int:
        """How many times the AIA endpoint served the intermediate (0 without ``tls``)."""
        tls = self._tls
        return 0 if tls is None else self._call(lambda: tls.fetches)

    def issued_grants(self) -> list[Grant]:
        """Every ``/prove`` answer so far (the last ``KEPT_GRANTS``): tokens as sent, salts. For secrecy tests."""
        return self._call(self._server.issuer.grants)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        if self._tls is not None:
            asyncio.run_coroutine_threadsafe(self._tls.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Simulator({self.base_url!r})"
