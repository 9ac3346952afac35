"""Micro-benchmarks: the pure protocol pieces, the simulator on its own, the client's HTTP path, and what a page
costs to pickle as a model or to pass through an actor as bytes (the floors behind ``pool/wire.py``)."""

from __future__ import annotations

import asyncio
import os
import pickle
import statistics
import time
import timeit
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import psutil
import ray
import requests
from ray import cloudpickle

from ..nepse.client import NepseClient, read_model
from ..nepse.endpoints import CATALOGUE
from ..nepse.payload import PayloadVariant, payload_id
from ..nepse.ratelimit import TokenBucket
from ..nepse.tokens import insert_junk, junk_positions, strip_junk
from ..pool.stats_math import percentile
from ..pool.wire import Wire
from .context import BenchContext, actor, cpu_seconds, timed
from .report import Goal, Value
from .scenario import Scenario

DAY_TRADES = 5_000
MARKET_OPEN = "/api/nots/nepse-data/market-open"
FLOORSHEET = "/api/nots/nepse-data/floorsheet"


def _best_per_op(run: Callable[[], object], ops_per_run: int, runs: int, repeats: int) -> float:
    """Seconds per operation: the fastest of ``repeats`` timings of ``runs`` runs."""
    return min(timeit.Timer(run).repeat(repeat=repeats, number=runs)) / (ops_per_run * runs)


def protocol(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Token positions + strip, payload ids and a no-wait rate-limiter acquire, best of ``repeats``, one thread."""
    salts = [(i * 7919) % 100_000 for i in range(1000)]
    tokens = [(insert_junk(f"{i:04d}" + "x" * 156, s, "#####"), s) for i, s in enumerate(salts)]
    variants = list(PayloadVariant)
    cases = [(variants[i % len(variants)], i % 100, i % 31 + 1, (s, s * 3 % 99_999, s * 5 % 99_999, 7, 0))
             for i, s in enumerate(salts)]  # fmt: skip
    bucket = TokenBucket(rate=1e12, burst=1_000_000)  # never waits: the bookkeeping alone
    repeats, runs = p["repeats"], p["runs"]

    def strip() -> None:
        for token, salt in tokens:
            strip_junk(token, salt)

    def positions() -> None:
        for salt in salts:
            junk_positions(salt)

    def ids() -> None:
        for variant, market_id, day, salt_set in cases:
            payload_id(variant, market_id=market_id, day=day, salts=salt_set)

    return {
        "strip_per_s": Value(1 / _best_per_op(strip, len(tokens), runs, repeats), "tokens/s"),
        "positions_per_s": Value(1 / _best_per_op(positions, len(salts), runs, repeats), "salts/s"),
        "payload_ids_per_s": Value(1 / _best_per_op(ids, len(cases), runs, repeats), "ids/s"),
        "acquire": Value(1e6 * _best_per_op(bucket.acquire, 1, runs * 4000, repeats), "µs"),
    }


class _Session:
    """One proved token on one aiohttp session, sending requests the way the site expects."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http, self.base_url = http, base_url
        self.headers: dict[str, str] = {"Referer": base_url + "/"}
        self.salts: tuple[int, ...] = ()
        self.day = 0

    async def prove(self) -> _Session:
        async with self.http.get(self.base_url + "/api/authenticate/prove", headers=self.headers) as response:
            body = await response.json()
        self.salts = tuple(body[f"salt{i}"] for i in range(1, 6))
        self.headers["Authorization"] = "Salter " + strip_junk(body["accessToken"], body["salt2"])
        async with self.http.get(self.base_url + MARKET_OPEN, headers=self.headers) as response:
            self.day = int((await response.json())["asOf"][8:10])
        return self

    async def get(self, path: str) -> int:
        async with self.http.get(self.base_url + path, headers=self.headers) as response:
            await response.read()
            return response.status

    async def floorsheet_page(self, page: int) -> bytes:
        body = {"id": payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=self.day, salts=self.salts)}
        url = f"{self.base_url}{FLOORSHEET}?page={page}&size=500&sort=contractId,desc"
        async with self.http.post(url, json=body, headers=self.headers) as response:
            return await response.read()


async def _requests_per_s(base_url: str, seconds: float, concurrency: int = 32) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        session = await _Session(http, base_url).prove()
        for _ in range(200):
            await session.get(MARKET_OPEN)
        done = 0
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await session.get(MARKET_OPEN)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def _page_latency(base_url: str, pages: int) -> tuple[list[float], list[float]]:
    """Milliseconds per 500-row page: each page's first request (built) and two repeats (served from the cache)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        session = await _Session(http, base_url).prove()
        cold: list[float] = []
        warm: list[float] = []
        for round_ in range(3):
            for page in range(pages):
                start = time.perf_counter()
                await session.floorsheet_page(page)
                (cold if round_ == 0 else warm).append((time.perf_counter() - start) * 1000)
        return cold, warm


async def _paced(base_url: str, rate: float, seconds: float) -> list[int]:
    async with aiohttp.ClientSession() as http:
        session = await _Session(http, base_url).prove()
        await asyncio.sleep(1.0)  # a full allowance to start from
        statuses, start = [], time.perf_counter()
        for k in range(int(seconds * rate)):
            await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            statuses.append(await session.get(MARKET_OPEN))
        return statuses


def simulator(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """The simulator in its own process: cheap GETs/s with limits off, page latency, and its rate limit."""
    sim = context.simulator(DAY_TRADES, rate_limit=None, day_source="asof")
    rate = asyncio.run(_requests_per_s(sim.base_url, p["seconds"]))
    cold, warm = asyncio.run(_page_latency(sim.base_url, p["pages"]))
    sim.configure(rate_limit=2.0)
    sim.reset_stats()
    asyncio.run(_paced(sim.base_url, 2.0, p["paced_seconds"]))
    at_limit = sim.stats()["rate_limit_violations"]
    fast = asyncio.run(_paced(sim.base_url, 10.0, p["paced_seconds"]))
    return {
        "requests_per_s": Value(rate, "req/s"),
        "page_first_median": Value(statistics.median(cold), "ms"),
        "page_cached_median": Value(statistics.median(warm), "ms"),
        "page_first_p95": Value(percentile(cold, 95) or 0.0, "ms"),
        "violations_at_limit": Value(at_limit, ""),
        "refused_at_5x": Value(sum(status == 429 for status in fast) / len(fast), "of requests"),
    }


def client_transport(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """A 500-row page by bare ``requests``, by the client's transport, and by ``NepseClient`` (parsed), interleaved."""
    sim = context.simulator(DAY_TRADES, rate_limit=None)
    pages = DAY_TRADES // 500
    with NepseClient(sim.base_url, rate=1e6) as client, requests.Session() as bare:
        token = client.get_access_token()
        body = {"id": client.get_post_payload_id_for_floor_sheet()}
        headers = {"Authorization": f"Salter {token}", "Referer": sim.base_url + "/", "User-Agent": "bench"}
        url = sim.base_url + FLOORSHEET

        def query(page: int) -> dict[str, Any]:
            return {"page": page, "size": 500, "sort": "contractId,desc"}

        contenders: dict[str, Callable[[int], object]] = {
            "bare": lambda n: bare.post(url, params=query(n), json=body, headers=headers, timeout=30).content,
            "transport": lambda n: client.fetch("floorsheet", {"page": n}, lambda endpoint, raw: raw),
            "client": lambda n: client.floorsheet(page=n, size=500),
        }
        for page in range(pages):  # the simulator's page cache and every connection warm
            for call in contenders.values():
                call(page)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(p["rounds"]):
            for name, call in contenders.items():
                times[name].append(1000 * timed(lambda: call(round_ % pages)))  # noqa: B023 (called at once)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "bare_median": Value(medians["bare"], "ms"),
        "transport_median": Value(medians["transport"], "ms"),
        "client_median": Value(medians["client"], "ms"),
        "transport_over_bare": Value(medians["transport"] / medians["bare"], "x"),
    }


class _PageWorker:
    """A threaded actor answering with a page-sized body, as a worker does (without the HTTP)."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._compressed = Wire.of_body("floorsheet", "raw", body).payload

    def page(self) -> bytes:
        return self._body

    def page_compressed(self) -> bytes:
        """The body as a ``Wire`` carries it (LZ4, small enough to travel inside Ray's reply, not the object store)."""
        return self._compressed


class _Relay:
    """An async actor relaying a worker's page (a pass-through coordinator) or only granting a worker."""

    def __init__(self, workers: list[Any]) -> None:
        self._workers, self._turn = workers, 0

    async def relay(self) -> bytes:
        self._turn += 1
        page: bytes = await self._workers[self._turn % len(self._workers)].page.remote()
        return page

    async def relay_compressed(self) -> bytes:
        self._turn += 1
        page: bytes = await self._workers[self._turn % len(self._workers)].page_compressed.remote()
        return page

    async def grant(self) -> int:
        self._turn += 1
        return self._turn % len(self._workers)

    def pid(self) -> int:
        return os.getpid()


def wire_costs(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """One page pickled + unpickled as a model and passed on as a Wire; CPU per call of a relay and a grant."""
    sim = context.simulator(DAY_TRADES, rate_limit=None)
    with NepseClient(sim.base_url, rate=1000.0) as client:
        raw = client.fetch("floorsheet", {"page": 1}, lambda endpoint, raw: raw)
    model = read_model(CATALOGUE["floorsheet"], raw)
    _, args = Wire("floorsheet", "model", raw.body).__reduce__()

    dumps: Callable[[object], bytes] = cloudpickle.dumps  # as Ray pickles a result

    def model_round_trip() -> None:
        pickle.loads(dumps(model))

    def pass_wire() -> None:  # what the coordinator pays per page: a Wire that stays bytes, in and out
        dumps(Wire(*pickle.loads(dumps(args))))

    values = {
        "body": Value(len(raw.body) / 1024, "KiB"),
        "model_pickle": Value(1000 * _best_per_op(model_round_trip, 1, 10, 3), "ms"),
        "wire_pass": Value(1000 * _best_per_op(pass_wire, 1, 50, 3), "ms"),
    }
    workers = [actor(_PageWorker, raw.body, max_concurrency=2) for _ in range(p["workers"])]
    relay = actor(_Relay, workers, max_concurrency=1000)
    process = psutil.Process(ray.get(relay.pid.remote()))
    try:
        for kind in ("relay", "relay_compressed", "grant"):
            method = getattr(relay, kind)
            ray.get([method.remote() for _ in range(50)])
            before = cpu_seconds(process)
            refs = [method.remote() for _ in range(p["calls"])]
            ray.wait(refs, num_returns=len(refs), fetch_local=False)
            values[f"{kind}_cpu"] = Value(1000 * (cpu_seconds(process) - before) / p["calls"], "ms/call")
    finally:
        for handle in (relay, *workers):
            ray.kill(handle)
    return values


SCENARIOS = (
    Scenario(
        "protocol",
        "pure protocol pieces on one thread: token de-obfuscation, payload ids, a no-wait rate-limiter acquire",
        protocol,
        full={"runs": 50, "repeats": 5},
        quick={"runs": 5, "repeats": 3},
        goals=(
            Goal("strip_per_s", ">=", 200_000, ">= 200,000 tokens/s"),
            Goal("acquire", "<", 5.0, "< 5 µs per acquire"),
        ),
    ),
    Scenario(
        "simulator",
        "the simulator in its own process: cheap GETs over 32 connections, a 500-row page, its per-token limit",
        simulator,
        full={"seconds": 3.0, "pages": 10, "paced_seconds": 5.0},
        quick={"seconds": 0.5, "pages": 10, "paced_seconds": 2.0},
        goals=(
            Goal("requests_per_s", ">=", 1500, ">= 1,500 req/s"),
            Goal("page_first_median", "<", 5.0, "page median < 5 ms"),
            Goal("violations_at_limit", "<=", 0, "0 violations at the limit"),
        ),
    ),
    Scenario(
        "client-transport",
        "a 500-row page by bare requests, by the client's streaming transport and by NepseClient, interleaved",
        client_transport,
        full={"rounds": 300},
        quick={"rounds": 40},
        goals=(Goal("transport_over_bare", "<=", 1.10, "transport <= 1.10x bare requests (medians)"),),
    ),
    Scenario(
        "wire-costs",
        "a page pickled as a model or passed as bytes; CPU of an async actor relaying a page (as the body, and "
        "LZ4-compressed as a Wire carries it) or granting a worker",
        wire_costs,
        full={"calls": 600, "workers": 5},
        quick={"calls": 200, "workers": 2},
    ),
)
