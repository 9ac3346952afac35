"""``NepseWorker``: the Ray actor that owns one :class:`~nepse_ray.nepse.client.NepseClient`.

Each worker has its own token and its own rate limiter, so ``W`` workers may send ``W * rate_per_token`` requests
per second without any token exceeding its limit. Workers are threaded actors (``inflight_per_worker`` threads
share the client, which is thread-safe) placed with the ``SPREAD`` strategy, so on a cluster each token's traffic
leaves from a different node where possible.

The coordinator makes every retry decision, so Ray never retries a worker task (``max_task_retries=0``); Ray only
restarts a crashed worker process (``max_restarts``), which rebuilds the client with a fresh token.

:func:`worker_method` is the single routing table from a request name to the worker method that serves it: a
catalogue endpoint goes through ``call``, a seed method (``get_access_token`` ...) through ``session``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import ray

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.endpoints import CATALOGUE, prepare
from nepse_ray.nepse.errors import NepseError, NepseInputError
from nepse_ray.pool.options import PoolOptions

#: The seed design's single-token methods, served by whichever worker the coordinator picks.
SEED_METHODS: tuple[str, ...] = (
    "get_access_token",
    "get_salts",
    "get_market_id",
    "get_market_status",
    "get_post_payload_id",
    "get_post_payload_id_for_floor_sheet",
    "get_security_brief",
    "get_security_symbol_id_map",
)
_SEED = frozenset(SEED_METHODS)


def validate_request(name: str, params: Mapping[str, object]) -> None:
    """Raise :class:`NepseInputError` unless ``name(**params)`` is a request a worker can serve."""
    if name in _SEED:
        if params:
            raise NepseInputError(f"{name} takes no arguments, got {', '.join(sorted(params))}")
        return
    if name not in CATALOGUE:
        known = ", ".join(sorted([*CATALOGUE, *SEED_METHODS]))
        raise NepseInputError(f"unknown request {name!r}; known: {known}")
    prepare(name, params)


def worker_method(name: str, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The :class:`NepseWorker` method and arguments that serve request ``name`` (no validation)."""
    if name in _SEED:
        return "session", (name,)
    return "call", (name, params)


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
    def call(self, name: str, params: dict[str, Any]) -> Any:
        """Serve catalogue endpoint ``name``; a failure raises its ``NepseError`` subclass."""
        return self._client.call(name, **params)

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
        if name not in _SEED:
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
