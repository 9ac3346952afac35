"""``NepseWorker``: the Ray actor that owns a :class:`~nepse_ray.nepse.client.NepseClient` for each of its tokens.

Each worker has its own token and its own rate limiter, so ``W`` workers may send ``W * rate_per_token`` requests
per second without any token exceeding its limit. A worker may hold several tokens (``tokens_per_worker``), each
its own client with its own limiter, taking requests in turn: one Ray process then serves several tokens, and each
Ray process costs CPU even while idle. A token paused by a 429 is skipped while it waits
(:func:`~nepse_ray.pool.policy.next_token`). Workers are threaded actors (``inflight_per_worker`` threads per token
share the clients, which are thread-safe); the supervisor places each new one on the node that holds the fewest of
the pool's workers, so on a cluster the tokens' traffic is spread evenly over the nodes.

A node labelled :data:`SOURCE_ADDRESS_LABEL` (``ray start --labels='{"nepse-ray.source-address": "10.0.0.7"}'``,
or ``Cluster.add_node(labels=...)``) names the local address its workers' HTTP connections leave from: a site that
limits each client address then counts every node apart, and the pool's address limit grows with the nodes (more
tokens from one address do not raise it). Unlabelled nodes leave it to the OS.

The coordinator makes every retry decision, so Ray never retries a worker task (``max_task_retries=0``); Ray only
restarts a crashed worker process (``max_restarts``), which rebuilds the client with a fresh token.

A catalogue endpoint is served by :meth:`NepseWorker.call`, which answers with a :class:`~nepse_ray.pool.wire.Wire`
(bytes the coordinator passes on without opening); a session method (``get_access_token`` ...) by
:meth:`NepseWorker.session`, from the client's token state. A token refused even after a fresh prove fails the
call with :class:`~nepse_ray.pool.policy.TokenRefused`, naming the token, so the request goes to another token.

With ``pool_rate_cap`` the pool's permits cover every HTTP request, not only each grant: an attempt's first request
goes on its grant's permit, and every further one (a prove when the token is stale or refused, the empty-page
fallback, a retry after a 429) waits for a permit of the coordinator's (:class:`PoolPermits`).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.endpoints import SESSION_METHODS
from nepse_ray.nepse.errors import NepseAuthError, NepseError, NepseForbiddenError, NepseInputError
from nepse_ray.pool.metrics import WorkerMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import TokenRefused, next_token
from nepse_ray.pool.process_watch import watch_process
from nepse_ray.pool.request import Form
from nepse_ray.pool.site import WorkerSite
from nepse_ray.pool.wire import Wire, packer

#: The node label naming the local IP address a node's workers connect from (see the module docstring).
SOURCE_ADDRESS_LABEL = "nepse-ray.source-address"

F = TypeVar("F", bound=Callable[..., Any])


def request_method(method: F) -> F:
    """Mark an actor method as a request path: no Ray task events for it (it is the hot path, and the pool's own
    stats and metrics cover every request). Keeps the method's type, which ``ray.method`` erases."""
    return cast(F, ray.method(enable_task_events=False)(method))


class PoolPermits:
    """The pool's rate cap on the HTTP requests of one worker: the first request of each call goes on the permit its
    grant took; every other one (a prove, a fallback, a retry after a 429, a session call's) asks the coordinator
    for a permit and waits for it. Called by the clients before each request, from the actor's threads."""

    __slots__ = ("_coordinator", "_local")

    def __init__(self, coordinator: Any) -> None:
        self._coordinator = coordinator
        self._local = threading.local()

    def granted(self) -> None:
        """The calling thread starts a call whose grant took a permit: its next request needs no other."""
        self._local.covered = True

    def __call__(self) -> None:
        if getattr(self._local, "covered", False):
            self._local.covered = False
            return
        ray.get(self._coordinator.permit.remote())


class TokenTurns:
    """A worker's tokens (one client each) taken in turn, so each gets its share of the load, skipping a token that
    a 429 paused (:func:`~nepse_ray.pool.policy.next_token`): ``horizon`` is how far ahead a token's own requests
    in flight may push its next permit before it counts as paused."""

    __slots__ = ("_clients", "_clock", "_horizon", "_turns")

    def __init__(
        self, clients: Sequence[NepseClient], horizon: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clients = clients
        self._horizon = horizon
        self._clock = clock
        self._turns = itertools.count()

    def next(self) -> tuple[int, NepseClient]:
        """The token that serves the next request, and its client."""
        turn = next(self._turns)
        if len(self._clients) == 1:
            return 0, self._clients[0]
        due = [client.permit_due_at() for client in self._clients]
        token = next_token(due, turn, self._clock(), self._horizon)
        return token, self._clients[token]


class NepseWorker:
    """The NEPSE clients of one Ray actor, one per token; :class:`RayWorkerLauncher` creates it with
    :func:`worker_actor_options`. ``coordinator`` is the pool's coordinator when ``pool_rate_cap`` is set."""

    def __init__(self, options: PoolOptions, coordinator: Any = None) -> None:
        self._init_error: NepseError | None = None
        context = ray.get_runtime_context()
        labels = cast(dict[str, str], context.get_node_labels())  # typed as lists of values; Ray 2.60 gives strings
        self._source_address = labels.get(SOURCE_ADDRESS_LABEL)
        self._permits = PoolPermits(coordinator) if coordinator is not None else None
        self._clients: list[NepseClient] = []
        site = WorkerSite(options.pool_name, options.namespace)  # the coordinator's memory of the site
        try:
            for _ in range(options.tokens_per_worker):
                client = NepseClient(
                    **options.client_kwargs(),
                    source_address=self._source_address,
                    site=site,
                    before_send=self._permits,
                )
                self._clients.append(client)
        except NepseError as error:
            # Reported by ping() as itself, so the pool can name the problem; the coordinator then kills this actor.
            self._init_error = error
        self._tokens = TokenTurns(self._clients, options.inflight_per_worker / options.rate_per_token)
        self._metrics = WorkerMetrics(options.pool_name) if options.metrics else None
        with warnings.catch_warnings():
            # Ray 2.60 warns about its own use of a deprecated accessor inside this property.
            warnings.simplefilter("ignore")
            self._reconstructed = bool(context.was_current_actor_reconstructed)
        self._node_id = context.get_node_id()

    @request_method
    def call(self, name: str, params: dict[str, Any], form: Form = "model", urgent: bool = False) -> Wire:
        """Serve catalogue endpoint ``name`` as a :class:`Wire` in ``form``; a failure raises its ``NepseError``.

        ``urgent`` (an interactive request) takes this worker's next rate-limit permit before its bulk requests.
        """
        token, client = self._next_client()
        if self._permits is not None:
            self._permits.granted()
        try:
            return client.fetch(name, params, packer(form), urgent=urgent)
        except (NepseAuthError, NepseForbiddenError) as error:
            raise TokenRefused(error, token) from None
        finally:
            self._record()

    def ping(self) -> dict[str, Any]:
        """Where this worker runs and what its client has done (counters only, no secrets)."""
        if self._init_error is not None:
            raise self._init_error
        return {
            "node_id": self._node_id,
            "pid": os.getpid(),
            "source_address": self._source_address,
            "reconstructed": self._reconstructed,
            "tokens": len(self._clients),
            "token_decoder": self._clients[0].token_decoder if self._clients else "builtin",
            "client": self._client_stats(),
        }

    @request_method
    def session(self, name: str) -> Any:
        """Serve session method ``name`` (``get_access_token``, ``get_salts``, ...) from the token state of this
        worker's next token in turn."""
        if name not in SESSION_METHODS:
            raise NepseInputError(f"{name!r} is not a session method; known: {', '.join(SESSION_METHODS)}")
        try:
            return getattr(self._next_client()[1], name)()
        finally:
            self._record()

    def _next_client(self) -> tuple[int, NepseClient]:
        """The token that serves the next request and its client (:class:`TokenTurns`)."""
        if self._init_error is not None:  # the coordinator kills this worker once ping() reports it
            raise self._init_error
        return self._tokens.next()

    def _client_stats(self) -> dict[str, float]:
        """Every token's client counters, added up (counts and seconds, never secrets)."""
        totals: dict[str, float] = {}
        for client in self._clients:
            for key, value in client.stats().items():
                totals[key] = totals.get(key, 0) + value
        return totals

    def _record(self) -> None:
        """Add the clients' new proves and rate-limiter waits to the pool's worker metrics."""
        if self._metrics is not None:
            self._metrics.update(self._client_stats())


def worker_actor_options(options: PoolOptions, node_id: str | None = None, *, number: int) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's worker ``number``: named ``<pool>-worker-<number>`` in the pool's
    namespace (the coordinator's job namespace may be another); ``node_id`` pins it to that node.

    The pin is hard: with ``soft=True`` Ray 2.60 sometimes placed a worker elsewhere although its node was alive
    (a 4-worker pool on 2 nodes came out 3 + 1 in one run of three). If the node is gone before the worker is placed,
    Ray raises ``ActorUnschedulableError`` and the supervisor places a new worker on an alive node.
    """
    placement: Any = "SPREAD" if node_id is None else NodeAffinitySchedulingStrategy(node_id, soft=False)
    return {
        "name": f"{options.pool_name}-worker-{number}",
        "namespace": options.namespace,
        "num_cpus": 0,
        "max_concurrency": options.slots_per_worker,
        "max_restarts": options.max_restarts,
        "max_task_retries": 0,
        "scheduling_strategy": placement,
    }


RemoteNepseWorker: Any = ray.remote(NepseWorker)
#: Ray's stubs leave it untyped.
_ray_nodes: Callable[[], list[dict[str, Any]]] = ray.nodes


class RayWorkerLauncher:
    """Starts and kills worker actors on the Ray cluster: the supervisor's only contact with Ray's scheduler."""

    __slots__ = ("_coordinator", "_node")

    def alive_nodes(self) -> list[str]:
        """Ids of the cluster's alive nodes, in a stable order."""
        return sorted(node["NodeID"] for node in _ray_nodes() if node["Alive"])

    def __init__(self, coordinator: Any = None) -> None:
        self._coordinator = coordinator
        self._node = ray.get_runtime_context().get_node_id()

    def watch_process(self, node_id: str | None, pid: int, on_gone: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``on_gone()`` once worker process ``pid`` ends; returns what ends the watch, or None for a worker on
        another node (its end is not seen from here)."""
        if node_id != self._node:
            return None
        return watch_process(pid, on_gone)

    def start(self, options: PoolOptions, node_id: str | None, number: int) -> Any:
        """A new worker actor's handle, placed on ``node_id``; it answers ``ping`` once its client is built. With
        ``pool_rate_cap`` it asks this launcher's ``coordinator`` for the permits of its extra requests."""
        gate = self._coordinator if options.pool_rate_cap is not None else None
        return RemoteNepseWorker.options(**worker_actor_options(options, node_id, number=number)).remote(options, gate)

    def kill(self, handle: Any) -> None:
        """Kill a worker for good: Ray will not restart it."""
        ray.kill(handle, no_restart=True)
