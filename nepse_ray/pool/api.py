"""``NepseWorkerAPI``: the driver-side facade of a NEPSE worker pool.

It connects to Ray (or starts a local instance), gets or creates the pool's named coordinator, and offers every
catalogue endpoint and every session method (the typed tables of :mod:`nepse_ray.nepse.methods`), each in two
forms: resolved values on the facade itself (the interactive lane), typed by endpoint like
:class:`~nepse_ray.nepse.client.NepseClient`'s, and ``ray.ObjectRef`` of the same types on ``api.remote`` (the
bulk lane); ``api.submit(name, params, priority=, form=)`` is the general form behind both. Arguments are checked
on the driver, so bad input raises :class:`~nepse_ray.nepse.errors.NepseInputError` before anything is submitted.
Each facade is one caller of the pool (its caller id): the unit of the pool's round-robin, and the proof of who
created the coordinator, since only that facade stops the pool (unless told to with ``force``) or removes it when
it failed to start.

The session methods (``get_access_token``, ``get_salts``, ``get_market_id`` ...) read one worker's token
state, which the worker answers from its cache; they need no queue, so the facade sends them straight to a worker
it picks in turn from the coordinator's list of serving workers (refreshed every ``SESSION_REFRESH`` seconds),
like Ray Serve's router. Ray retries such a call across a restart of the worker's process; in the resolved form a
lost worker or a retryable error sends the call through the coordinator instead, with its retries. Repeated reads
of small answers the coordinator has cached go to the pool's replica actor (``replica.py``, ``replica_actor.py``,
``routes.py``), which gives them from its copies, with Ray's retries across a restart of it or of the coordinator.

``default_api()`` (and the lazy module attribute ``nepse_worker_api``) is the shared instance that the original
design's module-level ``nepseWorkerAPI`` was, created with default options on first use.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from types import TracebackType
from typing import Any, Literal, cast

import ray
from ray.exceptions import RayActorError, RayTaskError

from nepse_ray.local_ray import keep_default_token_private
from nepse_ray.nepse.client import insecure_tls_warning
from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.methods import CatalogueMethods, ObjectRefForm, SessionMethods
from nepse_ray.pool.actor import RemotePoolCoordinator, coordinator_actor_options
from nepse_ray.pool.direct import DirectRequests
from nepse_ray.pool.errors import PoolShutdownError, original_error
from nepse_ray.pool.options import PoolLogger, PoolOptions, joined_with, pool_logger
from nepse_ray.pool.prefetch import Prefetcher
from nepse_ray.pool.replica import HotList
from nepse_ray.pool.replica_actor import RemotePoolReplica, replica_actor_options, replica_name
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.routes import Routes
from nepse_ray.pool.stats import PoolStats
from nepse_ray.pool.subscription import Stream
from nepse_ray.pool.supervisor import SESSION_REFRESH
from nepse_ray.pool.window import CallWindow
from nepse_ray.stream.feeds import feed_key

#: Seconds the facade waits for the pool's first ``min_workers`` workers to answer.
READY_TIMEOUT = 120.0
_DEATH_CONFIRM_TIMEOUT = 10.0
#: Times Ray resubmits a direct session call whose worker process is being restarted.
_SESSION_TASK_RETRIES = 3


class RemoteMethods(CatalogueMethods, SessionMethods, ObjectRefForm):
    """Every facade method in ObjectRef form: ``api.remote.floorsheet(page=3)`` returns a
    ``ray.ObjectRef[FloorsheetResponse]``.

    These go to the bulk lane and resolve to models; ``api.submit(name, params, priority=..., form=...)`` picks
    another lane or form."""

    def __init__(self, api: NepseWorkerAPI) -> None:
        self._api = api

    def _request(self, name: str, params: dict[str, Any]) -> Any:
        return self._api.submit(name, params, priority="bulk", form="model")


class NepseWorkerAPI(CatalogueMethods, SessionMethods):
    """A NEPSE worker pool on Ray: every endpoint, load-balanced over auto-scaled workers with their own tokens.

    ``NepseWorkerAPI(options=None, *, address=None, **option_kwargs)`` takes a :class:`PoolOptions` or its fields
    as keywords. It uses the Ray connection already made in this process, else connects to ``address`` (or
    ``RAY_ADDRESS``), else starts a local Ray instance. Pools are named: another driver, or another
    ``NepseWorkerAPI`` with the same ``pool_name`` and ``namespace``, joins the existing pool; joining one that runs
    against another ``base_url`` or with other ``verify``/``ca_bundle`` raises
    :class:`~nepse_ray.pool.errors.PoolConfigError`, other differences only warn.

    Two forms of every method:

    * ``api.floorsheet(page=3)`` blocks and returns the parsed model; it takes the interactive lane, so it waits
      for the next free worker slot, not for bulk work. A failure raises the original
      :class:`~nepse_ray.nepse.errors.NepseError` subclass after the pool's retries (``except NepseEmptyPageError``
      works), or :class:`~nepse_ray.pool.errors.PoolShutdownError` once the pool is gone.
    * ``api.remote.floorsheet(page=3)`` returns a ``ray.ObjectRef`` at once, in the bulk lane (which holds at most
      ``max_queued`` requests: beyond, ``ray.get`` raises :class:`~nepse_ray.pool.errors.PoolBusyError`). Use it
      with ``ray.get(ref)``, ``ray.wait(refs)``, ``await ref`` in async code, or pass it to another Ray task or
      actor, which receives the resolved value. ``ray.get`` raises a ``RayTaskError`` that is also an instance of
      the NepseError subclass. :meth:`submit` picks the lane and the form (model, Arrow page or raw bytes).

    Bad arguments raise :class:`~nepse_ray.nepse.errors.NepseInputError` in both forms before anything is
    submitted. ``get_stats()`` returns :class:`PoolStats`; ``shutdown()`` stops a pool this facade created (and
    leaves no actors behind), and only leaves one it joined; it is also what the context manager does on exit.

    >>> with NepseWorkerAPI(max_workers=3) as api:  # doctest: +SKIP
    ...     pages = ray.get([api.remote.floorsheet(page=p) for p in range(20)])
    ...     print(api.get_stats())
    """

    def __init__(self, options: PoolOptions | None = None, *, address: str | None = None, **option_kwargs: Any):
        if options is None:
            options = PoolOptions(**option_kwargs)
        elif option_kwargs:
            options = PoolOptions(**{**options.model_dump(), "logger": options.logger, **option_kwargs})
        self.options = options
        self._log = pool_logger(options)
        if not options.verify:
            _warn_insecure_once(self._log, options.base_url)
        self._owns_ray = _connect(options, address)
        self._closed = False
        self._last_stats: PoolStats | None = None
        self.remote = RemoteMethods(self)
        self._routes = Routes(self._read_routes, SESSION_REFRESH)  # calls past the coordinator's queue
        self._replica: Any = None  # the pool's replica actor: created with the pool, else found by name
        # bulk calls at the coordinator; the rest wait here
        self._window = CallWindow(options.driver_window, ended=_ended)
        self._prefetcher = Prefetcher()  # models of bulk calls made while later ones arrive
        self._caller = uuid.uuid4().hex  # this facade: the pool's round-robin unit, and the creator id
        self._created = False
        self._coordinator = RemotePoolCoordinator.options(**coordinator_actor_options(options)).remote(
            options.for_actors(), self._caller
        )
        try:
            self._created = ray.get(self._coordinator.creator.remote()) == self._caller
            if self._created and options.replica:  # owned as the coordinator is; the pool does not wait for it
                self._replica = RemotePoolReplica.options(**replica_actor_options(options)).remote(
                    options.pool_name, options.namespace
                )
            self._pool_options: PoolOptions = ray.get(self._coordinator.pool_options.remote())
            self._joined(self._pool_options)
            stats = self._resolve(self._coordinator.ready.remote(READY_TIMEOUT))
        except BaseException:
            self._closed = True
            if self._created:  # never remove a pool that other drivers may be using
                self._log.error(f"pool {options.pool_name!r} failed to start; removing it")
                self._end_coordinator(kill=True)
            elif self._owns_ray:
                ray.shutdown()
            raise
        self._last_stats = stats
        self._log.log(f"pool {options.pool_name!r} ready: {stats.total_workers} worker(s), max {options.max_workers}")

    def _joined(self, existing: PoolOptions) -> None:
        """Refuse to join a pool that talks to another site or with other TLS settings; warn about other options."""
        changed = joined_with(existing, self.options)
        if changed:
            self._log.warn(
                f"pool {self.options.pool_name!r} already exists with different options ({', '.join(changed)}); "
                "joining it as it is. Shut it down first, or use another pool_name, to apply new options"
            )

    # ---------------------------------------------------------------- calls

    def submit(
        self,
        name: str,
        params: dict[str, Any],
        *,
        priority: Literal["interactive", "bulk"] = "bulk",
        form: Literal["model", "arrow", "raw"] = "model",
    ) -> Any:
        """Check request ``name(**params)`` and submit it to the pool; return its ``ray.ObjectRef`` at once.

        ``priority`` picks the lane: ``interactive`` waits only for the next free worker slot, ``bulk`` queues
        behind other bulk work. ``form`` picks what the ref resolves to: ``model`` the endpoint's pydantic model,
        ``arrow`` a :class:`~nepse_ray.nepse.tables.PageBatch` (paged endpoints only), ``raw`` the response body
        bytes, already checked by the worker to be the JSON the endpoint promises. Rows travel as one buffer and
        become objects only where the ref is resolved (see :mod:`nepse_ray.pool.wire`).

        Raises :class:`~nepse_ray.nepse.errors.NepseInputError` for a bad name, argument, priority or form before
        anything is submitted. After the pool's retries, ``ray.get`` raises a ``RayTaskError`` that is also an
        instance of the original :class:`~nepse_ray.nepse.errors.NepseError` subclass.
        """
        return self._submit(PoolRequest.checked(name, params, lane=priority, form=form, caller=self._caller))[0]

    def stream(
        self,
        name: str,
        interval: float = 5.0,
        *,
        security_id: int | None = None,
        index_id: int | None = None,
        until_close: bool = False,
    ) -> Stream:
        """A live stream of ``name`` polled every ``interval`` seconds: ``for tick in api.stream("live_market")`` or
        ``async for``.

        Streams: ``live_market``, ``nepse_index``, ``sub_indices``, ``market_depth`` (with ``security_id``) and
        ``index_intraday`` (``index_id``, the NEPSE index by default). The first tick is a snapshot of every row,
        each later one the rows that changed since the previous poll (``tick.to_pandas()``, ``tick.to_arrow()``).
        Every subscriber of the pool, in any driver, shares one poll per feed and interval; while bulk work runs the
        polls take at most ``stream_share`` of one token's rate. While the market is closed (the site's
        market-open answer) the stream yields nothing: it logs when the market opens and waits, or ends with
        ``until_close=True``. Raises :class:`~nepse_ray.nepse.errors.NepseInputError` for a bad name or argument.
        """
        if self._closed:
            raise PoolShutdownError()
        key = feed_key(name, interval, security_id=security_id, index_id=index_id)
        return Stream(self, key, until_close=until_close)

    def direct(self) -> DirectRequests:
        """A new caller on the pool's direct path (:mod:`nepse_ray.pool.direct`): bulk requests whose results come
        straight from the workers, with the coordinator deciding who goes when; what the pulls use."""
        if self._closed:
            raise PoolShutdownError()
        return DirectRequests(self._coordinator, self._caller, self._pool_options)

    def _submit(self, request: PoolRequest) -> tuple[Any, bool]:
        """The request's ObjectRef, and whether it went past the coordinator (a session call, a cached answer)."""
        if self._closed:
            raise PoolShutdownError(endpoint=request.name)
        if request.is_session:
            worker = self._routes.session_worker()
            if worker is not None:
                return worker.session.options(max_task_retries=_SESSION_TASK_RETRIES).remote(request.name), True
        elif request.key is not None:
            number = self._routes.cached(request.key)
            if number is not None:  # a small cached answer: the replica gives it (replica.py)
                return self._replica.cached.remote(number), True
        return self._to_coordinator(request), False

    def _to_coordinator(self, request: PoolRequest) -> Any:
        """Submit ``request`` to its lane's coordinator method (bulk calls through this facade's ``window.py``, their
        models made ahead by its ``prefetch.py``)."""
        if request.lane == "interactive":
            return self._coordinator.call_interactive.remote(request)
        answer = self._window.submit(lambda after: self._coordinator.call.remote(request, after))
        if request.form == "model":
            self._prefetcher.watch(answer)
        return answer

    def _read_routes(self) -> tuple[list[Any], HotList]:
        """The serving workers and the cached answers the replica gives (``routes.py``); none while the coordinator
        is gone, and no answers while there is no replica (a pool started with ``replica=False`` or by an older
        nepse-ray)."""
        if self._replica is None and self._pool_options.replica:
            with contextlib.suppress(ValueError):  # no replica of that name
                self._replica = ray.get_actor(replica_name(self.options), namespace=self.options.namespace)
        try:
            workers, hot = ray.get(self._coordinator.routes.remote())
        except RayActorError:
            return [], {}
        return workers, (hot if self._replica is not None else {})

    def _request(self, name: str, params: dict[str, Any]) -> Any:
        request = PoolRequest.checked(name, params, lane="interactive", caller=self._caller)
        ref, direct = self._submit(request)
        try:
            try:
                return self._resolve(ref)
            except NepseError as error:
                if not direct or self._closed or not (error.retryable or isinstance(error, PoolShutdownError)):
                    raise
                # The worker went away or hit a retryable failure: let the coordinator run it with its retries.
                self._routes.forget()
                return self._resolve(self._to_coordinator(request))
        except NepseError as error:
            self._log.error(f"pool {self.options.pool_name!r}: {name} failed: {type(error).__name__}: {error}")
            raise

    def _resolve(self, ref: Any) -> Any:
        try:
            return ray.get(ref)
        except (RayActorError, RayTaskError) as error:
            failure = self._failure(error)
        raise failure

    async def _resolve_async(self, ref: Any) -> Any:
        try:
            return await ref
        except (RayActorError, RayTaskError) as error:
            failure = self._failure(error)
        raise failure

    def _failure(self, error: RayActorError | RayTaskError) -> BaseException:
        """What a failed call to the coordinator raises: the original error, or PoolShutdownError once it is gone."""
        if isinstance(error, RayActorError):
            return PoolShutdownError(
                f"the coordinator of pool {self.options.pool_name!r} is gone: the pool was shut down, or the driver "
                "that created it exited (use detached=True to share a pool beyond its creator). "
                "Create a new NepseWorkerAPI to continue."
            )
        return original_error(error)

    # ---------------------------------------------------------------- pool management

    def get_stats(self) -> PoolStats:
        """A snapshot of the pool; scale events since the previous snapshot are logged to the options' logger."""
        stats: PoolStats = self._resolve(self._coordinator.stats.remote())
        stats = stats.model_copy(
            update={"session_calls": self._routes.session_calls, "replica_calls": self._routes.replica_calls}
        )
        previous = self._last_stats
        if previous is not None:
            ups = stats.scale_up_events - previous.scale_up_events
            downs = stats.scale_down_events - previous.scale_down_events
            if ups > 0 or downs > 0:
                self._log.log(
                    f"pool {self.options.pool_name!r} scaled up {max(ups, 0)}x and down {max(downs, 0)}x; "
                    f"now {stats.total_workers} worker(s)"
                )
        self._last_stats = stats
        return stats

    def ping_workers(self) -> list[dict[str, Any]]:
        """Ping every worker now: its worker id, Ray node id, pid and client counters."""
        answers: list[dict[str, Any]] = self._resolve(self._coordinator.ping_workers.remote())
        return answers

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self, drain: bool = True, drain_timeout: float | None = None, *, force: bool = False) -> None:
        """Stop the pool if this facade created it (or with ``force``): finish (``drain=True``) or fail its accepted
        requests, then end the coordinator and workers. A facade that joined a pool only leaves it, running.

        With ``drain`` every accepted request is finished, retries included, for up to ``drain_timeout`` seconds
        (default ``PoolOptions.drain_timeout``); what is left then fails with ``PoolShutdownError``. Without it,
        queued requests, running ones and those sleeping before a retry fail at once. The pool is shared by name,
        so stopping it stops it for every driver using it. Calling it twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        self._prefetcher.stop()
        if not (self._created or force):
            self._log.log(f"left pool {self.options.pool_name!r}, running; shutdown(force=True) would stop it")
            if self._owns_ray:
                ray.shutdown()
            return
        try:
            stats: PoolStats = self._resolve(self._coordinator.shutdown.remote(drain, drain_timeout))
            self._log.log(
                f"pool {self.options.pool_name!r} shut down after {stats.total_tasks_completed} request(s), "
                f"{stats.total_errors} error(s)"
            )
        except PoolShutdownError:
            self._log.warn(f"pool {self.options.pool_name!r} was already gone at shutdown")
        self._end_coordinator(kill=False)

    def _end_coordinator(self, kill: bool) -> None:
        """Wait until the coordinator (and with it its workers) is dead and its name free; ``kill`` it first.

        After ``shutdown()`` (which stops the pool for every driver) the coordinator ends itself. ``kill`` is only
        for a failed start of a pool this facade created: a facade never removes a pool it did not create.
        """
        if kill:
            ray.kill(self._coordinator, no_restart=True)
            if self._replica is not None:
                ray.kill(self._replica, no_restart=True)
        deadline = time.monotonic() + _DEATH_CONFIRM_TIMEOUT
        while time.monotonic() < deadline and not self._coordinator_gone():
            time.sleep(0.05)
        if self._owns_ray:
            ray.shutdown()

    def _coordinator_gone(self) -> bool:
        """Whether the coordinator is dead and its name free, so a new pool of the same name can start at once."""
        try:
            # Without retries: the actor is created with max_task_retries=-1.
            ray.get(self._coordinator.creator.options(max_task_retries=0).remote(), timeout=_DEATH_CONFIRM_TIMEOUT)
            return False
        except (RayActorError, ray.exceptions.GetTimeoutError):
            pass
        try:
            return bool(ray.get_actor(self.options.pool_name, namespace=self.options.namespace) != self._coordinator)
        except ValueError:  # no actor of that name any more
            return True

    def __enter__(self) -> NepseWorkerAPI:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.shutdown(drain=exc is None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"NepseWorkerAPI(pool={self.options.pool_name!r}, namespace={self.options.namespace!r}, {state})"


def _ended(refs: list[Any]) -> list[Any]:
    """Those of ``refs`` that exist now (``window.py``)."""
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
    return ready


_insecure_sites_warned: set[str] = set()


def _warn_insecure_once(log: PoolLogger, base_url: str) -> None:
    """Warn in the driver, once per site, that the pool's workers do not verify TLS (each worker warns in its log)."""
    if base_url not in _insecure_sites_warned:
        _insecure_sites_warned.add(base_url)
        log.warn(insecure_tls_warning(base_url))


def _connect(options: PoolOptions, address: str | None) -> bool:
    """Make sure this process is connected to Ray; True if this call made the connection."""
    if ray.is_initialized():
        return False
    # With address=None, ray.init reads RAY_ADDRESS, and without it starts a local instance.
    keep_default_token_private(address)
    ray.init(address=address, namespace=options.namespace)
    return True


_default: NepseWorkerAPI | None = None
_default_lock = threading.Lock()


def default_api() -> NepseWorkerAPI:
    """The shared pool with default options, created on first use (again after it was shut down)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = NepseWorkerAPI()
        return _default


class _LazyDefaultAPI:
    """Stands for :func:`default_api` until first touched, like the original design's module-level
    ``nepseWorkerAPI``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # introspection (inspect.unwrap, IPython's _repr_*_) must not start a pool
            raise AttributeError(name)
        return getattr(default_api(), name)

    def __repr__(self) -> str:
        return "<nepse_worker_api: the default NepseWorkerAPI, created on first use>"


nepse_worker_api: NepseWorkerAPI = cast(NepseWorkerAPI, _LazyDefaultAPI())
