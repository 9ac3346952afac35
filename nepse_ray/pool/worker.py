"""``NepseWorker``: the Ray actor that owns one :class:`~nepse_ray.nepse.client.NepseClient`.

Each worker has its own token and its own rate limiter, so ``W`` workers may send ``W * rate_per_token`` requests
per second without any token exceeding its limit. Workers are threaded actors (``inflight_per_worker`` threads
share the client, which is thread-safe) placed with the ``SPREAD`` strategy, so on a cluster each token's traffic
leaves from a different node where possible.

The coordinator makes every retry decision, so Ray never retries a worker task (``max_task_retries=0``); Ray only
restarts a crashed worker process (``max_restarts``), which rebuilds the client with a fresh token.

A catalogue endpoint is served by :meth:`NepseWorker.call`, which answers with a :class:`~nepse_ray.pool.wire.Wire`
(bytes the coordinator passes on without opening); a seed method (``get_access_token`` ...) by
:meth:`NepseWorker.session`, from the client's token state.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import ray

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseError, NepseInputError
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.request import SEED_METHODS, Form
from nepse_ray.pool.wire import Wire, packer

F = TypeVar("F", bound=Callable[..., Any])


def request_method(method: F) -> F:
    """Mark an actor method as a request path: no Ray task events for it (it is the hot path, and the pool's own
    stats and metrics cover every request). Keeps the method's type, which ``ray.method`` erases."""
    return cast(F, ray.method(enable_task_events=False)(method))


class NepseWorker:
    """One NEPSE client in one Ray actor; :class:`RayWorkerLauncher` creates it with :func:`worker_actor_options`."""

    def __init__(self, options: PoolOptions) -> None:
        self._init_error: NepseError | None = None
        try:
            self._client = NepseClient(**options.client_kwargs())
        except NepseError as error:
            # Reported by ping() as itself, so the pool can name the problem; the coordinator then kills this actor.
            self._init_error = error
        context = ray.get_runtime_context()
        with warnings.catch_warnings():
            # Ray 2.60 warns about its own use of a deprecated accessor inside this property.
            warnings.simplefilter("ignore")
            self._reconstructed = bool(context.was_current_actor_reconstructed)
        self._node_id = context.get_node_id()

    @request_method
    def call(self, name: str, params: dict[str, Any], form: Form = "model") -> Wire:
        """Serve catalogue endpoint ``name`` as a :class:`Wire` in ``form``; a failure raises its ``NepseError``."""
        return self._client.fetch(name, params, packer(form))

    def ping(self) -> dict[str, Any]:
        """Where this worker runs and what its client has done (counters only, no secrets)."""
        if self._init_error is not None:
            raise self._init_error
        return {
            "node_id": self._node_id,
            "pid": os.getpid(),
            "reconstructed": self._reconstructed,
            "client": self._client.stats(),
        }

    @request_method
    def session(self, name: str) -> Any:
        """Serve seed method ``name`` (``get_access_token``, ``get_salts``, ...) from this worker's token state."""
        if name not in SEED_METHODS:
            raise NepseInputError(f"{name!r} is not a session method; known: {', '.join(SEED_METHODS)}")
        return getattr(self._client, name)()


def worker_actor_options(options: PoolOptions) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's workers."""
    return {
        "num_cpus": 0,
        "max_concurrency": options.inflight_per_worker,
        "max_restarts": options.max_restarts,
        "max_task_retries": 0,
        "scheduling_strategy": "SPREAD",
    }


RemoteNepseWorker: Any = ray.remote(NepseWorker)


class RayWorkerLauncher:
    """Starts and kills worker actors: the coordinator's only contact with worker lifecycles (tests swap it)."""

    __slots__ = ()

    def start(self, options: PoolOptions) -> Any:
        """A new worker actor's handle; it answers ``ping`` once its client is built."""
        return RemoteNepseWorker.options(**worker_actor_options(options)).remote(options)

    def kill(self, handle: Any) -> None:
        """Kill a worker for good: Ray will not restart it."""
        ray.kill(handle, no_restart=True)
