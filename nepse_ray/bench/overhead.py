"""Per-call cost scenarios: the facade against a bare Ray actor (cached, coalesced and session calls, with the floors
any coordinator design pays, and the floor of a cached answer handed out by the driver itself), and what the pool's
Ray metrics cost.

``driver_put`` is what a driver-side answer for cached calls would cost at the least: the cached ``Wire`` put into
the object store once per call (each call needs an ObjectRef of its own: ``ray.wait`` refuses a list holding one
ref twice, so handing every caller the same ref would break ``ray.wait(refs)`` over repeated calls).

``cached`` calls are given by the pool's replica actor (``pool/replica_actor.py``), ``coordinator_cached`` by the
coordinator (a pool with ``replica=False``), as all cached calls were before the replica.

``bare_arg`` and ``async_arg`` are the bare actors given what a facade call must carry, the request: in Ray every
argument of a call costs its submission and its execution (binding it to the method's signature, serializing,
deserializing), and one argument alone, even an int, takes a bare actor to about half its rate. They are the floors
of any call that says what it asks for; ``cached_vs_bare_arg`` is the cached call against the first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ray

from ..pool.request import PoolRequest
from ..pool.wire import Wire
from .context import BenchContext, actor, latency_p50s, pipelined
from .report import Goal, Value
from .scenario import Scenario

DAY_TRADES = 5_000


class BareActor:
    def market_open(self) -> int:
        return 80


class AsyncBareActor:
    """The floor of any answer an async actor (the coordinator is one) gives itself."""

    async def market_open(self) -> int:
        return 80


class ArgActor:
    """A bare actor that is told what is asked (the request a facade call carries)."""

    def market_open(self, request: PoolRequest) -> int:
        return 80


class AsyncArgActor:
    """An async bare actor that is told what is asked."""

    async def market_open(self, request: PoolRequest) -> int:
        return 80


class RelayActor:
    """The floor of any coordinator in the data path: an async actor awaiting a trivial call on a threaded one."""

    def __init__(self) -> None:
        self._target = actor(BareActor, max_concurrency=2)

    async def market_open(self) -> int:
        value: int = await self._target.market_open.remote()
        return value


def facade(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    sim = context.simulator(DAY_TRADES, rate_limit=None)
    bare, async_bare, relay = actor(BareActor), actor(AsyncBareActor), actor(RelayActor)
    bare_arg, async_arg = actor(ArgActor), actor(AsyncArgActor)
    request = PoolRequest.checked("market_open", {}, caller="bench")
    fixed = {"min_workers": p["workers"], "max_workers": p["workers"]}
    cached = context.pool(sim, **fixed, cache_ttl={"market_open": 3600.0})
    at_coordinator = context.pool(sim, **fixed, cache_ttl={"market_open": 3600.0}, replica=False)
    coalesced = context.pool(sim, **fixed, rate_per_token=1000.0, cache_ttl={"market_open": 0.0})
    try:
        for api in (cached, at_coordinator, coalesced):
            ray.get([api.remote.market_open() for _ in range(20)] + [api.remote.get_market_id() for _ in range(20)])
        ray.get([handle.market_open.remote() for handle in (bare, async_bare, relay) for _ in range(20)])
        ray.get([handle.market_open.remote(request) for handle in (bare_arg, async_arg) for _ in range(20)])
        cached_answer = Wire("market_open", "model", ray.get(cached.submit("market_open", {}, form="raw")))
        p50 = latency_p50s(
            {
                "bare": lambda: ray.get(bare.market_open.remote()),
                "async_bare": lambda: ray.get(async_bare.market_open.remote()),
                "relay": lambda: ray.get(relay.market_open.remote()),
                "cached": cached.market_open,
                "session": cached.get_market_id,
                "driver_put": lambda: ray.get(ray.put(cached_answer)),
            },
            p["calls"],
        )
        rates = pipelined(
            {
                "bare": bare.market_open.remote,
                "async_bare": async_bare.market_open.remote,
                "bare_arg": lambda: bare_arg.market_open.remote(request),
                "async_arg": lambda: async_arg.market_open.remote(request),
                "relay": relay.market_open.remote,
                "cached": cached.remote.market_open,
                "coordinator_cached": at_coordinator.remote.market_open,
                "coalesced": coalesced.remote.market_open,
                "session": cached.remote.get_market_id,
                "driver_put": lambda: ray.put(cached_answer),
            },
            p["calls"],
        )
    finally:
        for api in (cached, at_coordinator, coalesced):
            api.shutdown(drain=False)
        for handle in (bare, async_bare, relay, bare_arg, async_arg):
            ray.kill(handle)
    values = {"bare_p50": Value(p50["bare"] * 1e3, "ms"), "bare_pipelined": Value(rates["bare"], "calls/s")}
    for name in ("cached", "session", "async_bare", "relay", "driver_put"):
        values[f"{name}_p50_ratio"] = Value(p50[name] / p50["bare"], "x bare")
    for name in (
        "cached",
        "coordinator_cached",
        "coalesced",
        "session",
        "async_bare",
        "bare_arg",
        "async_arg",
        "relay",
        "driver_put",
    ):
        values[f"{name}_pipelined_ratio"] = Value(rates[name] / rates["bare"], "x bare")
    values["cached_vs_bare_arg"] = Value(rates["cached"] / rates["bare_arg"], "x bare_arg")
    return values


def metrics_cost(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Two pools that differ only in ``metrics``, answering a cached call, alternating: the slowdown of metrics on.
    The pools have no replica, so the coordinator answers every call and records it."""
    sim = context.simulator(DAY_TRADES, rate_limit=None)
    pools = {
        metrics: context.pool(
            sim,
            min_workers=p["workers"],
            max_workers=p["workers"],
            metrics=metrics,
            max_queued=p["calls"],
            cache_ttl={"market_open": 3600.0},
            replica=False,
        )
        for metrics in (True, False)
    }
    try:
        for api in pools.values():
            ray.get([api.remote.market_open() for _ in range(100)])  # cached from here on
        rates = pipelined({str(m): api.remote.market_open for m, api in pools.items()}, p["calls"], p["repeats"])
    finally:
        for api in pools.values():
            api.shutdown(drain=False)
    on, off = rates["True"], rates["False"]
    return {
        "metrics_on": Value(on, "calls/s"),
        "metrics_off": Value(off, "calls/s"),
        "slowdown": Value(100 * (1 - on / off), "%"),
    }


SCENARIOS = (
    Scenario(
        "facade-overhead",
        "cached, coalesced and session calls through the facade against a bare Ray actor (p50 and pipelined)",
        facade,
        full={"calls": 1000, "workers": 5},
        quick={"calls": 200, "workers": 1},
        goals=(
            Goal("cached_p50_ratio", "<=", 2.5, "cached call p50 <= 2.5x bare"),
            Goal("cached_pipelined_ratio", ">=", 0.5, "cached calls pipelined >= 0.5x bare"),
        ),
    ),
    Scenario(
        "metrics-cost",
        "cached-call throughput at the coordinator (no replica) with the pool's Ray metrics on against off, "
        "alternating rounds",
        metrics_cost,
        full={"calls": 2000, "repeats": 5, "workers": 2},
        quick={"calls": 200, "repeats": 2, "workers": 1},
        goals=(Goal("slowdown", "<", 10.0, "metrics on < 10 % slower"),),
    ),
)
