"""Test doubles for the pool's coordinator: a fake launcher whose workers hand every call to the test as a future.

The coordinator runs on a plain asyncio loop; the test answers each worker call by hand. Waits are bounded polls of
the coordinator's state, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from ray.exceptions import ActorAlreadyExistsError, ActorDiedError, OwnerDiedError

from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.lease import Ask, GivenBack, Grants, Returns, Tally
from nepse_ray.pool.metrics import PoolMetrics, Tags
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.stats import PoolStats

#: Fast retries and ticks; identical requests stay apart unless a test is about sharing them.
FAST: dict[str, Any] = {"backoff_base": 1e-4, "backoff_cap": 1e-4, "scale_interval": 0.01, "coalesce": False}


@dataclass
class FakeCall:
    method: str
    args: tuple[Any, ...]
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)

    @property
    def name(self) -> str:
        return str(self.args[0]) if self.method == "call" else self.method

    def answer(self, value: Any) -> None:
        self.future.set_result(value)

    def fail(self, error: BaseException) -> None:
        self.future.set_exception(error)


class FakeRef:
    def __init__(self, future: concurrent.futures.Future[Any]) -> None:
        self._future = future

    def future(self) -> concurrent.futures.Future[Any]:
        return self._future

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self._future).__await__()


class FakeMethod:
    def __init__(self, worker: FakeWorker, method: str) -> None:
        self._worker = worker
        self._method = method

    def remote(self, *args: Any) -> FakeRef:
        call = FakeCall(self._method, args)
        if self._method == "ping":
            if self._worker.ping_error is not None:
                call.fail(self._worker.ping_error)
            else:
                call.answer({"node_id": "node-1", "pid": self._worker.pid})
        elif self._worker.killed:
            call.fail(ActorDiedError())
        else:
            self._worker.calls.append(call)
        return FakeRef(call.future)


class FakeWorker:
    """A worker handle: ``handle.<method>.remote(...)`` records a call the test answers."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.calls: list[FakeCall] = []
        self.ping_error: BaseException | None = None
        self.killed = False

    def __getattr__(self, method: str) -> FakeMethod:
        return FakeMethod(self, method)

    def open_calls(self) -> list[FakeCall]:
        return [call for call in self.calls if not call.future.done()]


class FakeLauncher:
    def __init__(self) -> None:
        self.workers: list[FakeWorker] = []
        self._pids = itertools.count(1000)
        self.next_ping_error: BaseException | None = None
        """A ping error for the next worker started (say, its node died before it was placed)."""
        self.taken_numbers: set[int] = set()
        """Worker numbers whose actor name is still held (by a worker of a coordinator's earlier life)."""
        self.numbers: list[int] = []
        """The number of each worker started, in order."""
        self.watches: dict[int, Callable[[], None]] = {}
        """What the supervisor asked to hear when each watched worker process ends."""

    def alive_nodes(self) -> list[str]:
        return ["node-1"]

    def start(self, options: PoolOptions, node_id: str | None, number: int) -> FakeWorker:
        if number in self.taken_numbers:
            raise ActorAlreadyExistsError(f"name {number} is taken")
        self.numbers.append(number)
        worker = FakeWorker(next(self._pids))
        worker.ping_error, self.next_ping_error = self.next_ping_error, None
        self.workers.append(worker)
        return worker

    def watch_process(self, node_id: str | None, pid: int, on_gone: Callable[[], None]) -> Callable[[], None]:
        self.watches[pid] = on_gone

        def cancel() -> None:
            self.watches.pop(pid, None)

        return cancel

    def end_process(self, pid: int) -> None:
        """Worker process ``pid`` ended (a SIGKILL): the supervisor hears it if it watches it."""
        on_gone = self.watches.pop(pid, None)
        if on_gone is not None:
            on_gone()

    def kill(self, handle: FakeWorker) -> None:
        handle.killed = True
        handle.ping_error = ActorDiedError()
        for call in handle.open_calls():
            call.fail(ActorDiedError())

    def alive(self) -> list[FakeWorker]:
        return [worker for worker in self.workers if not worker.killed]

    def open_calls(self) -> list[FakeCall]:
        return [call for worker in self.workers for call in worker.open_calls()]


class Presence:
    """A caller's presence (``lease.py``): reading it answers while the caller lives, and raises ``OwnerDiedError``
    once it is :meth:`gone`."""

    def __init__(self) -> None:
        self.alive = True
        self.reads = 0

    def gone(self) -> None:
        self.alive = False

    def __await__(self) -> Generator[Any, None, Any]:
        self.reads += 1
        if not self.alive:
            raise OwnerDiedError("ff" * 28, None, "a test's caller")
        return asyncio.sleep(0).__await__()


class MemoryStore:
    """A ledger store (``ledger.py``) kept in memory: what a restarted coordinator finds."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.saves = 0

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = data
        self.saves += 1

    def clear(self) -> None:
        self.data = None

    def snapshot(self) -> MemoryStore:
        """A store holding what this one holds now: what a coordinator restarted at this moment would find."""
        copy = MemoryStore()
        copy.data = self.data
        return copy


class Requester:
    """The test playing one caller on the direct path: asks for leases and gives them back with a running tally."""

    def __init__(self, coordinator: Coordinator, caller: str = "a", name: str | None = None) -> None:
        self.coordinator = coordinator
        self.caller = caller
        self.name = name or f"{caller}-requests"
        self.presence = Presence()
        self.tally = Tally()
        self.life = 0
        self.known: frozenset[str] = frozenset()

    async def lease(self, wanted: int, retries: int = 0) -> Grants:
        presence: list[Any] | None = [self.presence] if self.life == 0 else None
        ask = Ask(self.caller, self.name, wanted, retries, self.known, self.life, presence)
        grants = await self.coordinator.lease(ask)
        if grants.life != self.life:
            self.life, self.known = grants.life, frozenset()
        self.known |= frozenset(grants.handles)
        return grants

    def give_back(self, *backs: GivenBack, final: bool = False) -> Returns:
        for back in backs:
            self.tally.add(back)
        returns = Returns(self.name, backs, self.tally.copy(), final)
        self.coordinator.give_back(returns)
        return returns


class RecordingLogger:
    """A custom logger in the original design's shape: log / warn / error callables."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def log(self, message: str) -> None:
        self.lines.append(("log", message))

    def warn(self, message: str) -> None:
        self.lines.append(("warn", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))


class SpyMetrics(PoolMetrics):
    """Real Ray metric objects, plus a record of what the recorder handed over."""

    def __init__(self) -> None:
        super().__init__("demo")
        self.added: dict[tuple[str, Tags], float] = {}
        self.observed: list[tuple[str, Tags, float]] = []
        self.gauges: dict[str, dict[str, int]] = {}

    def add(self, counts: Mapping[tuple[str, Tags], float], observations: Iterable[tuple[str, Tags, float]]) -> None:
        observations = list(observations)
        super().add(counts, observations)
        for key, count in counts.items():
            self.added[key] = self.added.get(key, 0) + count
        self.observed += observations

    def set(self, key: str, values: Mapping[str, int]) -> None:
        super().set(key, values)
        self.gauges[key] = dict(values)


def request(name: str, params: dict[str, Any], **options: str) -> PoolRequest:
    return PoolRequest.checked(name, params, **options)


async def until(check: Callable[[], Awaitable[bool] | bool], polls: int = 2000) -> None:
    """Poll ``check`` every millisecond; fail after ``polls`` tries."""
    for _ in range(polls):
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.001)
    pytest.fail("the coordinator did not reach the expected state")


async def stats_where(coordinator: Coordinator, predicate: Callable[[PoolStats], bool]) -> PoolStats:
    await until(lambda: predicate(coordinator.stats()))
    return coordinator.stats()


async def started(
    retire_grace: float = 0.0, core: dict[str, Any] | None = None, **options: Any
) -> tuple[Coordinator, FakeLauncher]:
    """A started coordinator with ``options`` (over :data:`FAST`) and its fake launcher; ``core`` goes to the
    Coordinator itself (``clock``, ``wall``)."""
    launcher = FakeLauncher()
    coordinator = Coordinator(PoolOptions(**{**FAST, **options}), launcher, retire_grace=retire_grace, **(core or {}))
    await coordinator.start()
    await coordinator.ready(timeout=5)
    return coordinator, launcher


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]
