"""Find a running pool from another process (``nepse-ray stats``, a second notebook): Ray glue only.

:func:`join_cluster` connects to an existing Ray cluster and never starts one, unlike ``ray.init()`` without an
address; an address where nothing listens fails at once with :class:`ClusterNotFoundError` instead of Ray's
minute of retries. :func:`find_pool` gets a pool's named coordinator, :func:`pool_stats` asks it for a snapshot
and :func:`pool_options` for its options; :func:`direct_requests` makes a process without a facade (a Ray Data
read task) a caller on the pool's direct path::

    join_cluster("10.0.0.5:6379")
    stats = pool_stats(find_pool("nepse-ray", "nepse_ray"))
    leave_cluster()
"""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import ray
from ray._private import services
from ray.exceptions import GetTimeoutError, RayActorError

from nepse_ray.pool.direct import DirectRequests
from nepse_ray.pool.errors import PoolError
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.stats import PoolStats

#: Seconds to wait for the cluster's GCS port to accept a TCP connection.
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for a coordinator's stats or options (answered from a concurrency group of its own, even under
#: load).
STATS_TIMEOUT = 30.0


class ClusterNotFoundError(PoolError):
    """No Ray cluster answers at the given address, or none could be found on this machine."""

    default_message = "No Ray cluster found: pass its address (HOST:6379) with --address or in RAY_ADDRESS."


class PoolNotFoundError(PoolError):
    """The cluster has no live coordinator of that name in that namespace."""

    default_message = "No nepse-ray pool of that name runs in that namespace of the cluster."


def join_cluster(address: str | None) -> str:
    """Connect this process to the cluster at ``address`` (or ``RAY_ADDRESS``, or the one ``ray start`` recorded
    on this machine) and return its GCS address; never starts a local instance."""
    resolved = _resolve(address)
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except (OSError, ValueError):
        raise ClusterNotFoundError(
            f"no Ray cluster answers at {resolved}; check the address (the head's GCS port, 6379 by default)"
        ) from None
    try:
        ray.init(address=resolved, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClusterNotFoundError(
            f"could not join the Ray cluster at {resolved} ({reason}); if it uses token auth, set RAY_AUTH_MODE=token "
            "and make its token available (RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)"
        ) from None
    return resolved


def _resolve(address: str | None) -> str:
    # Ray's own resolution: RAY_ADDRESS, then the address file of a cluster started on this machine.
    try:
        resolved = services.canonicalize_bootstrap_address(address or "auto")
    except (ConnectionError, ValueError) as error:
        raise ClusterNotFoundError(f"{ClusterNotFoundError.default_message} ({error})") from None
    if resolved is None:
        raise ClusterNotFoundError()
    return resolved


def leave_cluster() -> None:
    """Disconnect from the cluster (the cluster and its pools keep running)."""
    ray.shutdown()


def find_pool(pool_name: str, namespace: str) -> Any:
    """The handle of pool ``pool_name``'s coordinator in ``namespace``."""
    try:
        return ray.get_actor(pool_name, namespace=namespace)
    except ValueError:
        raise PoolNotFoundError(
            f"no nepse-ray pool named {pool_name!r} in namespace {namespace!r} on this cluster; "
            "check --pool and --namespace (a pool lives as long as its driver unless it was started detached)"
        ) from None


def pool_stats(coordinator: Any) -> PoolStats:
    """A snapshot of the pool behind ``coordinator``; the one place that knows which method serves it."""
    stats: PoolStats = _control_answer(coordinator.stats.remote())
    return stats


def pool_options(coordinator: Any) -> PoolOptions:
    """The options the pool behind ``coordinator`` runs with (those of the driver that started it)."""
    options: PoolOptions = _control_answer(coordinator.pool_options.remote())
    return options


def direct_requests(pool_name: str, namespace: str) -> DirectRequests:
    """A new caller on the direct path (:mod:`nepse_ray.pool.direct`) of the running pool ``pool_name``, with the
    pool's own options, for a process that holds no facade; what ``api.direct()`` is for a driver."""
    coordinator = find_pool(pool_name, namespace)
    return DirectRequests(coordinator, uuid.uuid4().hex, pool_options(coordinator))


def _control_answer(ref: Any) -> Any:
    """The answer of a call to the coordinator's control group, or the named error of a pool that cannot answer."""
    try:
        return ray.get(ref, timeout=STATS_TIMEOUT)
    except RayActorError:
        raise PoolNotFoundError("the pool's coordinator is gone: the pool was shut down or its driver exited") from None
    except GetTimeoutError:
        raise PoolError(
            f"the pool's coordinator did not answer within {STATS_TIMEOUT:g} s; it may be overloaded, try again"
        ) from None
