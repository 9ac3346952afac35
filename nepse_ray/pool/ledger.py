"""What a pool remembers across restarts of its coordinator: cumulative counters, worker numbers and its life.

Ray restarts a dead coordinator actor (``max_restarts=-1``) by running its constructor again, and every bit of
state is lost with the process. A :class:`Ledger` is the part that must not be: the ``PoolStats`` totals (so
``get_stats()`` never goes backwards), the number of the next worker (so a worker id is never used twice, and a
caller's cached handle is never taken for a new worker's), the coordinator's **life** (1, 2, ... one per restart,
so callers notice the restart), and each direct caller's last :class:`~nepse_ray.pool.lease.Tally`.

The ledger is kept where Ray keeps its own cluster state, the GCS key-value store (:class:`GcsLedgerStore`, as Ray
Serve's controller keeps its checkpoints), and written when it changed: on every scaling tick, before every
``stats()`` answer (so no reader ever saw a total the store lacks), and when a worker gets its number. Counts of the
coordinator's own requests made after the last write are lost with the process; the direct path's are not: each
caller sends its running tally with its give-backs, and the new coordinator counts what the tally holds beyond the
one it has (:meth:`Ledger.settle`). Ray's metrics (Prometheus counters) start again from zero in the new process,
which Prometheus reads as a counter reset.

A pool started anew (not a restart) clears the store first, so a pool of the same name started later begins at zero.

Beside the ledger, :class:`GcsHotStore` keeps the requests of the numbered cached answers the replica gives
(``replica.py``), one key per number, so a number routed before a restart is answered after it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from ray.experimental.internal_kv import _internal_kv_del, _internal_kv_get, _internal_kv_put

from nepse_ray.pool.lease import GivenBack, Tally
from nepse_ray.pool.recorder import Counts

#: Seconds a requester's tally is kept after it was last heard from.
TALLY_KEEP = 3600.0


class LedgerStore(Protocol):
    """Where a ledger's bytes outlive the coordinator's process."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...

    def clear(self) -> None: ...


@dataclasses.dataclass(slots=True)
class Ledger:
    """The state a coordinator restart must not lose (see the module docstring); ``counts`` is the recorder's."""

    counts: Counts = dataclasses.field(default_factory=Counts)
    life: int = 1
    next_worker: int = 1
    tallies: dict[str, Tally] = dataclasses.field(default_factory=dict)
    heard: dict[str, float] = dataclasses.field(default_factory=dict)
    """When each requester was last heard from (this process's clock; not kept across lives)."""
    store: LedgerStore | None = None
    saved: bytes = b""

    @classmethod
    def open(cls, store: LedgerStore | None, now: float) -> Ledger:
        """The ledger of a coordinator starting now: the next life of the one ``store`` holds (or a first one)."""
        ledger = cls.next_life(store.load() if store is not None else None, now)
        ledger.store = store
        return ledger

    def save(self) -> None:
        """Write the ledger to its store if it changed since the last write."""
        if self.store is None:
            return
        data = self.dump()
        if data != self.saved:
            self.store.save(data)
            self.saved = data

    def clear(self) -> None:
        """The pool is gone: a pool of the same name started later begins at zero."""
        if self.store is not None:
            self.store.clear()

    def settle(self, requester: str, tally: Tally, returned: tuple[GivenBack, ...], now: float) -> Tally:
        """What to count for a give-back of ``returned`` from ``requester``, whose running tally is now ``tally``.

        A known requester: its tally beyond the one kept (nothing for a give-back seen before, and what a dead
        coordinator life counted without recording it). An unknown one (new, or forgotten): the leases returned now.
        """
        kept = self.tallies.get(requester)
        counted = Tally.of(returned) if kept is None else tally.minus(kept)
        self.tallies[requester] = tally.copy()
        self.heard[requester] = now
        return counted

    def forget_idle(self, now: float) -> None:
        """Drop the tallies of requesters not heard from for :data:`TALLY_KEEP` seconds."""
        for requester, heard in list(self.heard.items()):
            if now - heard > TALLY_KEEP:
                del self.heard[requester]
                self.tallies.pop(requester, None)

    def dump(self) -> bytes:
        return json.dumps(
            {
                "life": self.life,
                "next_worker": self.next_worker,
                "counts": dataclasses.asdict(self.counts),
                "tallies": {requester: dataclasses.asdict(tally) for requester, tally in self.tallies.items()},
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def next_life(cls, data: bytes | None, now: float) -> Ledger:
        """The ledger of a coordinator that starts after the one that wrote ``data`` (a fresh one without it)."""
        if data is None:
            return cls()
        kept: dict[str, Any] = json.loads(data)
        tallies = {requester: Tally(**fields) for requester, fields in kept["tallies"].items()}
        return cls(
            counts=Counts(**kept["counts"]),
            life=kept["life"] + 1,
            next_worker=kept["next_worker"],
            tallies=tallies,
            heard=dict.fromkeys(tallies, now),
        )


class GcsLedgerStore:
    """A pool's ledger in the Ray GCS key-value store, under the pool's namespace and name."""

    __slots__ = ("_key",)

    def __init__(self, namespace: str, pool_name: str) -> None:
        self._key = f"nepse-ray/{namespace}/{pool_name}/ledger".encode()

    def load(self) -> bytes | None:
        data: bytes | None = _internal_kv_get(self._key)
        return data

    def save(self, data: bytes) -> None:
        _internal_kv_put(self._key, data, overwrite=True)

    def clear(self) -> None:
        _internal_kv_del(self._key)


class GcsHotStore:
    """The requests of a pool's numbered cached answers (``replica.HotStore``) in the Ray GCS key-value store, one
    key per number under the pool's namespace and name."""

    __slots__ = ("_prefix",)

    def __init__(self, namespace: str, pool_name: str) -> None:
        self._prefix = f"nepse-ray/{namespace}/{pool_name}/hot/"

    def save(self, number: int, data: bytes) -> None:
        _internal_kv_put(f"{self._prefix}{number}".encode(), data, overwrite=True)

    def load(self, number: int) -> bytes | None:
        data: bytes | None = _internal_kv_get(f"{self._prefix}{number}".encode())
        return data

    def forget(self, number: int) -> None:
        _internal_kv_del(f"{self._prefix}{number}".encode())

    def clear(self) -> None:
        _internal_kv_del(self._prefix.encode(), del_by_prefix=True)
