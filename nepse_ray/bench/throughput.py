"""Throughput scenarios: a fixed pool at W workers against the 2 requests/s per-token limit, on a fast and a slow
site; every way of asking it for a day's pages (a pull, ObjectRefs in both forms); and the speedup over one
``NepseClient`` reading the same pages one after another.

Steady-state rate = ``(N - W) / elapsed``, ``N`` counting answered pages only (a failed request is not a page):
after the warm-up each token's first request is free (burst 1), so ``N`` requests take ``(N / W - 1) / 2``
seconds at the limit. The simulator measures each token's smallest gap between two requests as they were sent
(before the latency it adds), which judges the pool's pacing whatever the site's latency does to arrivals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import ray

from ..nepse.client import NepseClient
from ..pool.api import NepseWorkerAPI
from ..pulls import pull_floorsheet
from ..sim import SimulatorProcess
from .context import PAGE_ROWS, RATE_PER_TOKEN, BenchContext, share_of_limit, timed, warm
from .report import Goal, Value
from .scenario import Scenario


def answered(ref: Any) -> bool:
    """Whether ``ref`` resolves to an answer (not to the error the pool gave up with)."""
    try:
        ray.get(ref)
    except Exception:  # any error the pool answered with: not a page
        return False
    return True


def fixed_pool_rate(
    context: BenchContext, sim: SimulatorProcess, workers: int, pages_per_worker: int
) -> dict[str, float]:
    """A pool fixed at ``workers``: its share of the limit in answered pages, the pages that failed, the simulator's
    violations and the smallest gap any token left between two requests."""
    api = context.pool(sim, min_workers=workers, max_workers=workers, max_retries=0)
    try:
        warm(api, workers)
        sim.reset_stats()
        count = workers * pages_per_worker
        pages = sim.config.trades // PAGE_ROWS
        refs = [api.remote.floorsheet(page=page % pages) for page in range(count)]
        elapsed = timed(lambda: ray.wait(refs, num_returns=count, fetch_local=True))
        stats = sim.stats()
        done = sum(map(answered, refs))
    finally:
        api.shutdown(drain=False)
    return {
        "fraction": share_of_limit(done, workers, elapsed),
        "failed": float(count - done),
        "violations": float(stats["rate_limit_violations"]),
        "min_gap": min(stats["min_gap_per_token"].values(), default=float("inf")),
    }


def _sweep(context: BenchContext, p: Mapping[str, Any], **site: Any) -> dict[str, Value]:
    sim = context.simulator(p["trades"], **site)
    values: dict[str, Value] = {}
    totals = {"failed": 0.0, "violations": 0.0}
    for workers in p["workers"]:
        row = fixed_pool_rate(context, sim, workers, p["pages_per_worker"])
        values[f"fraction_w{workers}"] = Value(row["fraction"], "of W x 2 req/s")
        values[f"min_gap_w{workers}"] = Value(row["min_gap"], "s")
        totals = {name: total + row[name] for name, total in totals.items()}
    values |= {name: Value(total, "") for name, total in totals.items()}
    values["min_gap"] = Value(min(values[f"min_gap_w{workers}"].value for workers in p["workers"]), "s")
    return values


def throughput(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    return _sweep(context, p)


def slow_site(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Latency drawn uniformly from ``latency_ms +- spread_ms`` (the simulator adds ``uniform(0, jitter)``).

    The simulator holds a request before its rate limiter sees it, like a slow network: arrivals a client spaced
    exactly ``1 / rate`` apart reach the limiter up to ``2 x spread_ms`` closer together. ``rate_leeway`` forgives
    that much arrival jitter (at the default 0.25 s the spread of this latency alone is counted as violations, and
    each 429 costs its worker a Retry-After pause), so the violations it counts are reported, not judged: the
    pacing is judged by ``min_gap``, each token's smallest gap between two requests as the pool sent them, against
    the limiter's interval.
    """
    return _sweep(
        context,
        p,
        latency_ms=p["latency_ms"] - p["spread_ms"],
        jitter_ms=2 * p["spread_ms"],
        rate_leeway=p["rate_leeway"],
    )


def _pull(api: NepseWorkerAPI, pages: int) -> int:
    return pull_floorsheet(api).pages  # every page of the day, or IncompletePullError


def resolved(refs: list[Any]) -> int:
    """``ray.get(refs)`` as a user calls it; how many answered (when one failed, each is resolved alone)."""
    try:
        return len(ray.get(refs))
    except Exception:  # a failed page: count the ones that answered
        return sum(map(answered, refs))


def as_ready(refs: list[Any]) -> int:
    """The refs consumed as they complete (``ray.wait``, then ``ray.get`` of what is ready): how many answered."""
    done, pending = 0, refs
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, fetch_local=True)
        more, pending = ray.wait(pending, num_returns=len(pending), timeout=0, fetch_local=True)
        done += resolved(ready + more)
    return done


#: The ObjectRefs of every page of a day: resolving to Arrow pages, or to models (relayed through the coordinator).
BULK_REFS: dict[str, Callable[[NepseWorkerAPI, int], list[Any]]] = {
    "arrow": lambda api, pages: [api.submit("floorsheet", {"page": page}, form="arrow") for page in range(pages)],
    "model": lambda api, pages: [api.remote.floorsheet(page=page) for page in range(pages)],
}


def _refs_then_get(form: str) -> Callable[[NepseWorkerAPI, int, int], dict[str, float]]:
    """One form of refs made at once and resolved with ``ray.get`` (as the goals judge), with the share until every
    ref was ready (what the pool delivered: ``<form>_ready``) and the seconds of the ``ray.get`` after that
    (``<form>_get_s``: what the driver still had to do once the last page arrived)."""

    def measure(api: NepseWorkerAPI, pages: int, workers: int) -> dict[str, float]:
        started = time.perf_counter()
        refs = BULK_REFS[form](api, pages)
        ray.wait(refs, num_returns=len(refs), fetch_local=True)
        ready = time.perf_counter()
        done = resolved(refs)
        return {
            form: share_of_limit(done, workers, time.perf_counter() - started),
            form + "_ready": share_of_limit(done, workers, ready - started),
            form + "_get_s": time.perf_counter() - ready,
        }

    return measure


def _timed_share(fetch: Callable[[NepseWorkerAPI, int], int], name: str) -> Callable[..., dict[str, float]]:
    def measure(api: NepseWorkerAPI, pages: int, workers: int) -> dict[str, float]:
        started = time.perf_counter()
        done = fetch(api, pages)
        return {name: share_of_limit(done, workers, time.perf_counter() - started)}

    return measure


#: Every way of asking for a day's pages: a pull, each form of refs resolved by one ``ray.get``, and the model refs
#: consumed as they complete (``ray.wait`` then ``ray.get`` of what is ready).
WAYS: dict[str, Callable[[NepseWorkerAPI, int, int], dict[str, float]]] = {
    "pull": _timed_share(_pull, "pull"),
    "arrow": _refs_then_get("arrow"),
    "model": _refs_then_get("model"),
    "model_as_ready": _timed_share(lambda api, pages: as_ready(BULK_REFS["model"](api, pages)), "model_as_ready"),
}


def bulk_refs(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Every page of a day of ``W x pages_per_token`` pages through a pool fixed at W tokens (one per worker),
    each way in turn: share of the limit in answered pages. The last W of ``workers`` is the one the goals judge
    (its figures are named by form alone); the others carry ``_w<W>``.

    Each way runs on a pool of its own, started and warmed alike, so each starts with tokens just proved: a token
    is proved again every 45 s, and that prove and the market-open check after it take two of the token's
    requests, ~6 % of a 16 s run, on whichever way happened to run across it."""
    values: dict[str, Value] = {}
    violations = 0
    for workers in p["workers"]:
        pages = workers * p["pages_per_token"]
        sim = context.simulator(pages * PAGE_ROWS)
        suffix = "" if workers == p["workers"][-1] else f"_w{workers}"
        for measure in WAYS.values():
            api = context.pool(sim, min_workers=workers, max_workers=workers)
            try:
                warm(api, workers)
                sim.reset_stats()
                shares = measure(api, pages, workers)
                violations += sim.stats()["rate_limit_violations"]
            finally:
                api.shutdown(drain=False)
            for name, figure in shares.items():
                values[name + suffix] = Value(figure, "s" if name.endswith("_get_s") else "of W x 2 req/s")
    values["violations"] = Value(violations, "")
    return values


def speedup(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """The same pages through a pool of 5 and through one client, one after another, in this run."""
    sim = context.simulator(p["trades"])
    count = p["pages"]
    api = context.pool(sim, min_workers=5, max_workers=5, max_retries=0)
    try:
        warm(api, 5)
        pool_seconds = timed(lambda: ray.get([api.remote.floorsheet(page=page) for page in range(count)]))
    finally:
        api.shutdown(drain=False)
    time.sleep(1.0 / RATE_PER_TOKEN)
    with NepseClient(sim.base_url) as client:
        client.market_open()  # the token proved, as the pool's were
        time.sleep(1.0 / RATE_PER_TOKEN)
        client_seconds = timed(lambda: [client.floorsheet(page=page) for page in range(count)])
    return {
        "speedup_w5": Value(client_seconds / pool_seconds, "x"),
        "pool_s": Value(pool_seconds, "s"),
        "client_s": Value(client_seconds, "s"),
    }


#: The smallest gap the slow-site verdict allows between two requests of one token as sent: the pool's limiter
#: spaces them 0.5 s apart, measured where each is used; 25 ms is left for what lies between that moment and the
#: simulator's timestamp (the worker's send path, loopback, the simulator's event loop), which on this loaded
#: 2-core machine moves single gaps by up to ~20 ms with no latency at all. A pacing fault (two requests of one
#: token at once, a burst after a pause) leaves gaps of a fraction of the interval.
MIN_GAP = 0.475

SCENARIOS = (
    Scenario(
        "throughput",
        "pool fixed at W workers, 2 req/s per token, burst 1: share of the W x 2 req/s limit, per-token violations",
        throughput,
        full={"workers": [1, 2, 3, 4, 5], "pages_per_worker": 24, "trades": 100_000},
        quick={"workers": [5], "pages_per_worker": 6, "trades": 30_000},
        goals=(
            Goal("fraction_w5", ">=", 0.95, ">= 0.95 of the limit at W = 5"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
    Scenario(
        "throughput-slow-site",
        "the same with the site answering in 300 ms +- 200 ms",
        slow_site,
        full={
            "workers": [1, 2, 3, 4, 5],
            "pages_per_worker": 24,
            "trades": 100_000,
            "latency_ms": 300.0,
            "spread_ms": 200.0,
            "rate_leeway": 0.45,
        },
        quick={
            "workers": [5],
            "pages_per_worker": 6,
            "trades": 30_000,
            "latency_ms": 300.0,
            "spread_ms": 200.0,
            "rate_leeway": 0.45,
        },
        goals=(
            Goal("fraction_w5", ">=", 0.95, ">= 0.95 of the limit at W = 5"),
            Goal("min_gap", ">=", MIN_GAP, f">= {MIN_GAP} s between a token's requests as sent (limiter: 0.5 s)"),
        ),
    ),
    Scenario(
        "bulk-refs",
        "every page of a day at W = 5 and 15 tokens (one per worker): pull_floorsheet, ray.get of api.submit(..., "
        "form='arrow') refs and of api.remote.floorsheet refs (model form), each with its share until every ref was "
        "ready and the seconds of the ray.get after; and the model refs consumed as they complete (model_as_ready)",
        bulk_refs,
        full={"workers": [5, 15], "pages_per_token": 33},
        quick={"workers": [2, 5], "pages_per_token": 6},
        goals=(
            Goal("pull", ">=", 0.95, "pull_floorsheet >= 0.95 of the limit at W = 15 (quick: 5)"),
            Goal("arrow", ">=", 0.95, "arrow refs >= 0.95 at W = 15"),
            Goal("model", ">=", 0.90, "model refs >= 0.90 at W = 15"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
    Scenario(
        "speedup",
        "the same floorsheet pages through a pool of 5 and through one NepseClient sequentially, in one run",
        speedup,
        full={"pages": 120, "trades": 100_000},
        quick={"pages": 12, "trades": 30_000},
        goals=(Goal("speedup_w5", ">=", 4.75, ">= 4.75x at W = 5"),),
    ),
)
