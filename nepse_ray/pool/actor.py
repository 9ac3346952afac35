"""``PoolCoordinator``: the Ray actor around a :class:`~nepse_ray.pool.coordinator.Coordinator` — lanes as concurrency
groups, all state on one home loop.

Ray gives each concurrency group of an async actor its own event loop in its own thread (checked on Ray 2.60: three
groups, three thread ids). The actor uses that to keep Ray's receive queues apart:

* the **default group** takes bulk calls (:meth:`PoolCoordinator.call`) and the direct path's leases
  (:meth:`PoolCoordinator.lease`, :meth:`PoolCoordinator.give_back`); its ``max_concurrency`` is
  ``max_queued`` plus :data:`REFUSAL_HEADROOM`, so every accepted bulk request is a visible, fairly scheduled
  coroutine and one more than ``max_queued`` is refused at once with ``PoolBusyError`` instead of piling up in
  Ray's queue (in Ray 2.60 raising ``max_concurrency`` far beyond that only makes every queued call cost more);
* the **interactive group** takes the value form and ``priority="interactive"`` calls
  (:meth:`PoolCoordinator.call_interactive`), so they never wait in Ray's queue behind bulk calls, the rate cap's
  permits for workers' extra requests (:meth:`PoolCoordinator.permit`), the replica's asks for cached answers
  (:meth:`PoolCoordinator.hot_entry`, ``replica.py``) and the live streams' long polls
  (:meth:`PoolCoordinator.stream_fetch`, ``hub.py``);
* the **control group** takes stats, readiness, the facades' routes (serving workers, cached answers), options,
  the workers' questions about the site (``pool/site.py``), a stream's end and shutdown, so they answer however
  deep the backlog (the ``coordinator-backlog`` scenario of ``nepse-ray bench`` measures it).

All pool state lives on one loop, the home loop: the default group's, where the bulk calls (nearly all the traffic)
already run. Interactive and control calls hop there with ``run_coroutine_threadsafe`` and await the answer, so the
coordinator needs no locks and its parts never see two threads. Measured, a dedicated home thread instead cost the
bulk path a hop per request and GIL hand-offs between two busy threads: the coordinator spent about twice the CPU
per request (2.1 ms against 1.0-1.2 ms for a bare relay actor on this 2-core machine). Ray creates a group's loop
with the group's first call, so ``__init__`` sends the actor a :meth:`PoolCoordinator.start` call of its own; a
control or interactive call that comes first sends one too and waits for it.

The actor sets :func:`~nepse_ray.pool.wire.pass_through` at start: worker results unpickled here stay bytes.
A facade passes its caller id as ``creator``; only the facade that created the actor may kill it on a failed start
(a joiner whose start fails leaves a shared pool alone). A shutdown ends the pool's replica actor too
(``replica_actor.py``), which the creating facade made.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import ray
from ray.exceptions import RayTaskError

from nepse_ray.nepse.decoder import DecoderSpec
from nepse_ray.nepse.payload import PayloadRule
from nepse_ray.nepse.site import SearchClaim
from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.hub import StreamHub
from nepse_ray.pool.lease import Ask, Grants, Returns
from nepse_ray.pool.ledger import GcsHotStore, GcsLedgerStore
from nepse_ray.pool.memory import coordinator_env, release_memory
from nepse_ray.pool.metrics import PoolMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.replica import HotList
from nepse_ray.pool.replica_actor import replica_name
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.stats import PoolStats
from nepse_ray.pool.wire import pass_through
from nepse_ray.pool.worker import RayWorkerLauncher
from nepse_ray.stream.feeds import FeedKey
from nepse_ray.stream.tick import Cursor, Delivery

T = TypeVar("T")

#: Concurrent interactive calls before further ones wait in Ray's queue (each is one blocked caller thread).
INTERACTIVE_CONCURRENCY = 256
#: Concurrent control calls: stats, readiness, session lists, shutdown.
CONTROL_CONCURRENCY = 16
#: Bulk calls beyond ``max_queued`` that may run at once only to be refused with PoolBusyError.
REFUSAL_HEADROOM = 64
#: Seconds between the end of a shutdown and the end of the actor.
END_GRACE = 0.5
#: Seconds a shutdown waits for the name of the pool's killed replica actor to be free.
REPLICA_END_WAIT = 10.0

log = logging.getLogger("nepse_ray.pool.actor")


class PoolCoordinator:
    """One pool's coordinator; Ray runs it as :data:`RemotePoolCoordinator` with :func:`coordinator_actor_options`."""

    def __init__(self, options: PoolOptions, creator: str = "") -> None:
        pass_through()
        self._options = options
        self._creator = creator
        context = ray.get_runtime_context()
        self._myself = context.current_actor
        store = GcsLedgerStore(options.namespace, options.pool_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray 2.60 warns about its own use of a deprecated accessor in there
            restarted = bool(context.was_current_actor_reconstructed)
        hot_store = GcsHotStore(options.namespace, options.pool_name)
        if not restarted:
            store.clear()  # a new pool: whatever a pool of this name left behind is not ours
            hot_store.clear()
        metrics = PoolMetrics(options.pool_name) if options.metrics else None
        launcher = RayWorkerLauncher(self._myself)
        self._core = Coordinator(
            options, launcher, metrics=metrics, on_drained=release_memory, ledger_store=store, hot_store=hot_store
        )
        self._streams = StreamHub(self._core, options)
        self._home: asyncio.AbstractEventLoop | None = None
        self._myself.start.remote()  # the default group's first call: its loop becomes home, the pool starts

    def __repr__(self) -> str:  # Ray shows it in task errors and logs
        return f"PoolCoordinator(pool={self._options.pool_name!r})"

    async def start(self) -> None:
        """Make the default group's loop the home loop and start the coordinator on it (once)."""
        if self._home is None:
            self._home = asyncio.get_running_loop()
            await self._core.start()

    async def _at_home(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the home loop and wait for it here; cancelling the wait cancels the work."""
        if self._home is None:
            await self._myself.start.remote()
        assert self._home is not None
        future = asyncio.run_coroutine_threadsafe(work, self._home)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    # ---------------------------------------------------------------- requests

    @ray.method(num_returns=2, enable_task_events=False)
    async def call(self, request: PoolRequest, after: None = None) -> tuple[Any, None]:
        """A bulk-lane request, on the home loop itself (the default group); see ``Coordinator.call``.

        Returns the answer and a marker for the caller's window (``window.py``; ``after`` is an earlier call's
        marker, which Ray waited for on the caller's side). A failure is returned as the ``RayTaskError`` Ray would
        have stored for it, so ``ray.get`` on the answer raises it and the marker stays a plain ``None``.
        """
        if self._home is None:
            await self.start()
        try:
            return await self._core.call(request), None
        except Exception as error:
            return task_error(error, self), None

    @ray.method(enable_task_events=False)
    async def lease(self, ask: Ask, returns: Returns | None) -> Grants:
        """Leases given back, then worker slots for a caller's direct attempts, on the home loop; see
        ``Coordinator.give_back`` and ``Coordinator.lease``."""
        if self._home is None:
            await self.start()
        if returns is not None:
            self._core.give_back(returns)
        return await self._core.lease(ask)

    @ray.method(enable_task_events=False)
    async def give_back(self, returns: Returns) -> None:
        """Leases coming back from a caller, on the home loop; see ``Coordinator.give_back``."""
        if self._home is None:
            await self.start()
        self._core.give_back(returns)

    @ray.method(concurrency_group="interactive", enable_task_events=False)
    async def permit(self) -> None:
        """A permit of the pool's rate cap for a worker's extra HTTP request; see ``Coordinator.permit``."""
        await self._at_home(self._core.permit())

    @ray.method(concurrency_group="interactive", enable_task_events=False)
    async def call_interactive(self, request: PoolRequest) -> Any:
        """An interactive-lane request; see ``Coordinator.call``."""
        return await self._at_home(self._core.call(request))

    @ray.method(concurrency_group="interactive", enable_task_events=False)
    async def hot_entry(self, number: int) -> tuple[Any, float]:
        """The replica's ask for cached answer ``number`` and how long it may keep it; see ``Coordinator.hot_entry``."""
        return await self._at_home(self._core.hot_entry(number))

    @ray.method(concurrency_group="interactive", enable_task_events=False)
    async def stream_fetch(
        self, key: FeedKey, subscriber: str, cursor: Cursor | None, known: bool | None, wait: float
    ) -> Delivery:
        """A live stream's long poll: the ticks after ``cursor``, or news of the market; see ``StreamHub.fetch``."""
        return await self._at_home(self._streams.fetch(key, subscriber, cursor, known, wait))

    # ---------------------------------------------------------------- control

    @ray.method(concurrency_group="control")
    async def stream_leave(self, key: FeedKey, subscriber: str) -> None:
        """A subscriber closed its stream of ``key``; see ``StreamHub.leave``."""
        await self._at_home(_now(lambda: self._streams.leave(key, subscriber)))

    @ray.method(concurrency_group="control")
    async def ready(self, timeout: float) -> PoolStats:
        return await self._at_home(self._core.ready(timeout))

    @ray.method(concurrency_group="control")
    async def stats(self) -> PoolStats:
        return await self._at_home(_now(self._core.stats))

    @ray.method(concurrency_group="control")
    async def routes(self) -> tuple[list[Any], HotList]:
        """The serving workers and the small cached answers the replica gives; see ``Coordinator.routes``."""
        return await self._at_home(_now(self._core.routes))

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

    # ---------------------------------------------------------------- the site memory (pool/site.py), thread-safe

    @ray.method(concurrency_group="control")
    async def site_decoder(self) -> DecoderSpec:
        return self._core.site.decoder()

    @ray.method(concurrency_group="control")
    async def heal_decoder(self, failed: DecoderSpec) -> DecoderSpec:
        """May fetch css.wasm: in a thread, so the control group keeps answering."""
        return await asyncio.to_thread(self._core.site.heal_decoder, failed)

    @ray.method(concurrency_group="control")
    async def claim_payload_search(self, endpoint: str) -> SearchClaim:
        return self._core.site.claim_search(endpoint)

    @ray.method(concurrency_group="control")
    async def report_payload_search(self, endpoint: str, rule: PayloadRule | None, requests: int) -> None:
        self._core.site.report_search(endpoint, rule, requests)

    @ray.method(concurrency_group="control")
    async def shutdown(self, drain: bool = True, drain_timeout: float | None = None) -> PoolStats:
        """Shut the pool down (``Coordinator.shutdown``), then end this actor :data:`END_GRACE` seconds later.

        The grace lets Ray deliver the last answers (``PoolShutdownError`` included) before the process goes. The
        actor ends with ``ray.kill`` rather than by exiting: Ray 2.60 keeps the name of an actor that exits itself
        registered, and a new pool of that name would find the dead one.
        """
        await self._at_home(self._streams.close())
        stats = await self._at_home(self._core.shutdown(drain, drain_timeout))
        await self._end_replica()
        asyncio.get_running_loop().call_later(END_GRACE, functools.partial(ray.kill, self._myself, no_restart=True))
        return stats

    async def _end_replica(self) -> None:
        """End the pool's replica actor (``replica_actor.py``) and wait until its name is free, so a pool of the same
        name started next gets a replica of its own."""
        name, namespace = replica_name(self._options), self._options.namespace
        deadline = time.monotonic() + REPLICA_END_WAIT
        try:
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                ray.get_actor(name, namespace=namespace)
            log.warning("%s still had its name %.0f s after it was killed", name, REPLICA_END_WAIT)
        except ValueError:  # no actor of that name (any more)
            return


def task_error(error: Exception, actor: PoolCoordinator) -> RayTaskError:
    """``error``, raised in a ``call`` of ``actor`` and being handled, as the error Ray stores for a failed task."""
    stored: RayTaskError = _untyped_task_error(
        "PoolCoordinator.call", traceback.format_exc(), error, actor_repr=repr(actor)
    )
    return stored


async def _now(read: Callable[[], T]) -> T:
    """A synchronous read of the coordinator's state, as a coroutine to run on the home loop."""
    return read()


#: Ray's stubs leave them untyped.
_remote: Any = ray.remote
_untyped_task_error: Any = RayTaskError
RemotePoolCoordinator: Any = _remote(
    concurrency_groups={"interactive": INTERACTIVE_CONCURRENCY, "control": CONTROL_CONCURRENCY}
)(PoolCoordinator)


def coordinator_actor_options(options: PoolOptions) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's coordinator: named, shared, restarted forever, bulk lane bounded, in a
    process whose memory comes back after a backlog (``memory.py``)."""
    environment = coordinator_env(options.max_queued)
    return {
        "name": options.pool_name,
        "namespace": options.namespace,
        "get_if_exists": True,
        "lifetime": "detached" if options.detached else None,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": options.max_queued + REFUSAL_HEADROOM,
        "num_cpus": 0,
        **({"runtime_env": {"env_vars": environment}} if environment else {}),
    }
