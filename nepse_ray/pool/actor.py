"""``PoolCoordinator``: the Ray actor around a :class:`~nepse_ray.pool.coordinator.Coordinator` — lanes as concurrency
groups, all state on one home loop.

Ray gives each concurrency group of an async actor its own event loop in its own thread (checked on Ray 2.60: three
groups, three thread ids). The actor uses that to keep Ray's receive queues apart:

* the **default group** takes bulk calls (:meth:`PoolCoordinator.call`); its ``max_concurrency`` is
  ``max_queued`` plus :data:`REFUSAL_HEADROOM`, so every accepted bulk request is a visible, fairly scheduled
  coroutine and one more than ``max_queued`` is refused at once with ``PoolBusyError`` instead of piling up in
  Ray's queue (ray-notes: raising ``max_concurrency`` far beyond that only makes every queued call cost more);
* the **interactive group** takes the value form and ``priority="interactive"`` calls
  (:meth:`PoolCoordinator.call_interactive`), so they never wait in Ray's queue behind bulk calls;
* the **control group** takes stats, readiness, the session-worker list, options and shutdown, so they answer
  however deep the backlog (measured: under 100 ms p99 with 50,000 requests queued, ``bench_coordinator.py``).

The three loops only receive calls. All pool state lives on one more loop, the home loop, in a thread of its own
that the actor starts; every method hops there with ``run_coroutine_threadsafe`` and awaits the answer, so the
coordinator needs no locks and its parts never see two threads.

The actor sets :func:`~nepse_ray.pool.wire.pass_through` at start: worker results unpickled here stay bytes.
A facade passes its caller id as ``creator``; only the facade that created the actor may kill it on a failed start
(a joiner whose start fails leaves a shared pool alone).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import ray

from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.metrics import PoolMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.stats import PoolStats
from nepse_ray.pool.wire import pass_through
from nepse_ray.pool.worker import RayWorkerLauncher

T = TypeVar("T")

#: Concurrent interactive calls before further ones wait in Ray's queue (each is one blocked caller thread).
INTERACTIVE_CONCURRENCY = 256
#: Concurrent control calls: stats, readiness, session lists, shutdown.
CONTROL_CONCURRENCY = 16
#: Bulk calls beyond ``max_queued`` that may run at once only to be refused with PoolBusyError.
REFUSAL_HEADROOM = 64


class PoolCoordinator:
    """One pool's coordinator; Ray runs it as :data:`RemotePoolCoordinator` with :func:`coordinator_actor_options`."""

    def __init__(self, options: PoolOptions, creator: str = "") -> None:
        pass_through()
        self._options = options
        self._creator = creator
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="nepse-pool-home", daemon=True).start()
        self._core = Coordinator(options, RayWorkerLauncher(), metrics=PoolMetrics(options.pool_name))
        asyncio.run_coroutine_threadsafe(self._core.start(), self._loop).result()

    def __repr__(self) -> str:  # Ray shows it in task errors and logs
        return f"PoolCoordinator(pool={self._options.pool_name!r})"

    async def _at_home(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the home loop and wait for it here; cancelling the wait cancels the work."""
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    # ---------------------------------------------------------------- requests

    @ray.method(enable_task_events=False)
    async def call(self, request: PoolRequest) -> Any:
        """A bulk-lane request (the default group); see ``Coordinator.call``."""
        return await self._at_home(self._core.call(request))

    @ray.method(concurrency_group="interactive", enable_task_events=False)
    async def call_interactive(self, request: PoolRequest) -> Any:
        """An interactive-lane request; see ``Coordinator.call``."""
        return await self._at_home(self._core.call(request))

    # ---------------------------------------------------------------- control

    @ray.method(concurrency_group="control")
    async def ready(self, timeout: float) -> PoolStats:
        return await self._at_home(self._core.ready(timeout))

    @ray.method(concurrency_group="control")
    async def stats(self) -> PoolStats:
        return await self._at_home(_now(self._core.stats))

    @ray.method(concurrency_group="control")
    async def session_workers(self) -> list[Any]:
        return await self._at_home(_now(self._core.session_workers))

    @ray.method(concurrency_group="control")
    async def ping_workers(self) -> list[dict[str, Any]]:
        return await self._at_home(self._core.ping_workers())

    @ray.method(concurrency_group="control")
    async def pool_options(self) -> PoolOptions:
        """The options this pool was created with (a later driver may have asked for different ones)."""
        return self._options

    @ray.method(concurrency_group="control")
    async def creator(self) -> str:
        """The caller id of the facade that created this actor."""
        return self._creator

    @ray.method(concurrency_group="control")
    async def shutdown(self, drain: bool = True, drain_timeout: float | None = None) -> PoolStats:
        return await self._at_home(self._core.shutdown(drain, drain_timeout))

    @ray.method(concurrency_group="control")
    async def exit(self) -> None:
        """End this actor for good after :meth:`shutdown` (Ray does not restart an actor that exits itself)."""
        _exit_actor()


async def _now(read: Callable[[], T]) -> T:
    """A synchronous read of the coordinator's state, as a coroutine to run on the home loop."""
    return read()


#: Ray's stubs leave these untyped.
_exit_actor: Callable[[], None] = ray.actor.exit_actor
_remote: Any = ray.remote
RemotePoolCoordinator: Any = _remote(
    concurrency_groups={"interactive": INTERACTIVE_CONCURRENCY, "control": CONTROL_CONCURRENCY}
)(PoolCoordinator)


def coordinator_actor_options(options: PoolOptions) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's coordinator: named, shared, restarted forever, bulk lane bounded."""
    return {
        "name": options.pool_name,
        "namespace": options.namespace,
        "get_if_exists": True,
        "lifetime": "detached" if options.detached else None,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": options.max_queued + REFUSAL_HEADROOM,
        "num_cpus": 0,
    }
