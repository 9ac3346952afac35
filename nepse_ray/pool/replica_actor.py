"""``PoolReplica``: the Ray actor that gives a pool's small cached answers (``replica.py``) to every facade.

One per pool, named ``<pool>-replica`` in the pool's namespace, created by the facade that creates the pool with
the coordinator's lifetime, so it is owned as the coordinator is (by that driver, or detached) and, unlike the
workers, does not die with the coordinator: a ref of a cached call queued here survives a restart of the
coordinator. Ray restarts it forever and retries its calls forever (``max_restarts=-1``, ``max_task_retries=-1``),
as it does the coordinator's, so a ref survives its own death too; its copies go with the process and are asked
for again. The coordinator ends it when the pool shuts down.

A threaded actor: each call names its answer by a number and takes one of :data:`REPLICA_CONCURRENCY` threads. A
copy it holds it gives at once; a number it does not hold, it asks the coordinator for
(``PoolCoordinator.hot_entry``, in the coordinator's interactive group, with Ray's retries across a restart of the
coordinator), keeps the answer as long as the coordinator says and gives it. A failure raises the
``NepseError`` a call of the request would.

Ray keeps state for each call queued at an actor, and a facade's pipelined cached refs do not wait in its call
window: 10,000 sent at once took the replica from 165 to about 330 MiB (Ray also warns beyond 5,000 pending). So
once :data:`~nepse_ray.pool.memory.DRAINED_BACKLOG` calls or more have come since the last look and none came for
:data:`TRIM_LOOK` seconds, the replica hands the freed memory back (``memory.release_memory``): 185 MiB after
such a burst on this machine.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, cast

import ray
from ray.exceptions import RayActorError, RayTaskError

from nepse_ray.pool.errors import PoolShutdownError, original_error
from nepse_ray.pool.memory import DRAINED_BACKLOG, release_memory
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.replica import Replica
from nepse_ray.pool.wire import Wire, pass_through

#: Threads giving answers; a copy is given in tens of microseconds, so a few cover every facade.
REPLICA_CONCURRENCY = 4
#: Seconds between two looks at whether a burst of calls has ended (see the module docstring).
TRIM_LOOK = 2.0


class PoolReplica:
    """Gives a pool's small cached answers by number from its copies, asking the coordinator for the rest."""

    def __init__(self, pool_name: str, namespace: str) -> None:
        pass_through()  # the coordinator's answers stay Wires here, to be passed on as they came
        self._pool_name, self._namespace = pool_name, namespace
        self._copies = Replica()
        self._coordinator: Any = None  # found by name on the first answer this replica must ask for
        self._calls = 0  # a lost increment between threads only delays a trim
        threading.Thread(target=self._trim_after_bursts, name="replica-trim", daemon=True).start()

    def cached(self, number: int) -> Wire:
        """Cached answer ``number``, from a copy or as the coordinator gives it (see the module docstring)."""
        self._calls += 1
        copy = self._copies.get(number)
        if copy is not None:
            return cast(Wire, copy)
        asked_at = self._copies.asking()
        try:
            if self._coordinator is None:
                self._coordinator = ray.get_actor(self._pool_name, namespace=self._namespace)
            answer, seconds_left = ray.get(self._coordinator.hot_entry.remote(number))
        except RayTaskError as error:
            raise original_error(error) from None
        except (RayActorError, ValueError):  # the coordinator is gone for good (ValueError: no actor of that name)
            raise PoolShutdownError() from None
        self._copies.keep(number, answer, answer.nbytes, asked_at, seconds_left)
        return cast(Wire, answer)

    def _trim_after_bursts(self) -> None:
        trimmed_at = seen = 0
        while True:
            time.sleep(TRIM_LOOK)
            calls = self._calls
            if calls == seen and calls - trimmed_at >= DRAINED_BACKLOG:
                release_memory()
                trimmed_at = calls
            seen = calls

    def ping(self) -> dict[str, Any]:
        """What this replica has done: calls given from a copy and calls it asked the coordinator for."""
        return {"pid": os.getpid(), "from_copies": self._copies.hits, "asked": self._copies.asked}

    def __repr__(self) -> str:  # Ray shows it in task errors and logs
        return f"PoolReplica(pool={self._pool_name!r})"


def replica_name(options: PoolOptions) -> str:
    """The name of ``options``' pool's replica actor, in the pool's namespace."""
    return f"{options.pool_name}-replica"


def replica_actor_options(options: PoolOptions) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's replica: named, owned as the coordinator is, restarted forever."""
    return {
        "name": replica_name(options),
        "namespace": options.namespace,
        "get_if_exists": True,
        "lifetime": "detached" if options.detached else None,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": REPLICA_CONCURRENCY,
        "num_cpus": 0,
    }


#: Ray's stubs leave it untyped.
RemotePoolReplica: Any = ray.remote(PoolReplica)
