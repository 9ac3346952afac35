"""``NepseWorker``: the Ray actor that owns a :class:`~nepse_ray.nepse.client.NepseClient` for each of its tokens.

Each worker has its own token and its own rate limiter, so ``W`` workers may send ``W * rate_per_token`` requests
per second without any token exceeding its limit. A worker may hold several tokens (``tokens_per_worker``), each
its own client with its own limiter, taking requests in turn: one Ray process then serves several tokens, and each
Ray process costs CPU even while idle. Workers are threaded actors (``inflight_per_worker`` threads per token share
the clients, which are thread-safe); the supervisor places each new one on the node that holds the fewest of the
pool's workers, so on a cluster the tokens' traffic is spread evenly over the nodes.

A node labelled :data:`SOURCE_ADDRESS_LABEL` (``ray start --labels='{"nepse-ray.source-address": "10.0.0.7"}'``,
or ``Cluster.add_node(labels=...)``) names the local address its workers' HTTP connections leave from: a site that
limits each client address then counts every node apart, and the pool's address limit grows with the nodes (more
tokens from one address do not raise it). Unlabelled nodes leave it to the OS.

The coordinator makes every retry decision, so Ray never retries a worker task (``max_task_retries=0``); Ray only
restarts a crashed worker process (``max_restarts``), which rebuilds the client with a fresh token.

A catalogue endpoint is served by :meth:`NepseWorker.call`, which answers with a :class:`~nepse_ray.pool.wire.Wire`
(bytes the coordinator passes on without opening); a session method (``get_access_token`` ...) by
:meth:`NepseWorker.session`, from the client's token state.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.endpoints import SESSION_METHODS
from nepse_ray.nepse.errors import NepseError, NepseInputError
from nepse_ray.pool.metrics import WorkerMetrics
from nepse_ray.pool.options import PoolOptions
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


class NepseWorker:
    """The NEPSE clients of one Ray actor, one per token; :class:`RayWorkerLauncher` creates it with
    :func:`worker_actor_options`."""

    def __init__(self, options: PoolOptions) -> None:
        self._init_error: NepseError | None = None
        context = ray.get_runtime_context()
        labels = cast(dict[str, str], context.get_node_labels())  # typed as lists of values; Ray 2.60 gives strings
        self._source_address = labels.get(SOURCE_ADDRESS_LABEL)
        self._clients: list[NepseClient] = []
        site = WorkerSite(options.pool_name, options.namespace)  # the coordinator's memory of the site
        try:
            for _ in range(options.tokens_per_worker):
                self._clients.append(
                    NepseClient(**options.client_kwargs(), source_address=self._source_address, site=site)
                )
        except NepseError as error:
            # Reported by ping() as itself, so the pool can name the problem; the coordinator then kills this actor.
            self._init_error = error
        self._turns = itertools.count()
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
        try:
            return self._next_client().fetch(name, params, packer(form), urgent=urgent)
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
            return getattr(self._next_client(), name)()
        finally:
            self._record()

    def _next_client(self) -> NepseClient:
        """The client (token) whose turn it is: requests go round the tokens, so each gets its share of the load."""
        if self._init_error is not None:  # the coordinator kills this worker once ping() reports it
            raise self._init_error
        return self._clients[next(self._turns) % len(self._clients)]

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

    __slots__ = ()

    def alive_nodes(self) -> list[str]:
        """Ids of the cluster's alive nodes, in a stable order."""
        return sorted(node["NodeID"] for node in _ray_nodes() if node["Alive"])

    def start(self, options: PoolOptions, node_id: str | None, number: int) -> Any:
        """A new worker actor's handle, placed on ``node_id``; it answers ``ping`` once its client is built."""
        return RemoteNepseWorker.options(**worker_actor_options(options, node_id, number=number)).remote(options)

    def kill(self, handle: Any) -> None:
        """Kill a worker for good: Ray will not restart it."""
        ray.kill(handle, no_restart=True)
