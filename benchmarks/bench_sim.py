"""Benchmark of the NEPSE simulator, run in its own process (server and client hold separate GILs).

1. Throughput: cheap authed GETs (market-open) from 32 concurrent aiohttp connections, limits off.
   Goal: >= 1,500 requests/s on a 2-core machine.
2. Latency of one 500-row floorsheet page on one keep-alive connection: the first request of each page (built)
   and repeats (served from the page cache). Goal: median < 5 ms.
3. Limits on (2 requests/s per token, burst 1): one token paced at 2 requests/s, another at 10 requests/s.
   Goal: zero violations for the first, the second caught.

    .venv/bin/python benchmarks/bench_sim.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import aiohttp

from nepse_ray.nepse.payload import PayloadVariant, payload_id
from nepse_ray.nepse.tokens import strip_junk
from nepse_ray.pool.stats_math import percentile
from nepse_ray.sim import SimulatorProcess

BUSINESS_DATE = "2025-10-30"
MARKET_OPEN = "/api/nots/nepse-data/market-open"
FLOORSHEET = "/api/nots/nepse-data/floorsheet"


def simulator(**config: Any) -> SimulatorProcess:
    """A simulator in its own process (its own GIL), serving the fixed business day with the asof day term."""
    return SimulatorProcess(business_date=BUSINESS_DATE, day_source="asof", **config)


class Session:
    """One proved token on one aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http, self.base_url = http, base_url
        self.headers: dict[str, str] = {"Referer": base_url + "/"}
        self.salts: tuple[int, ...] = ()

    async def prove(self) -> Session:
        async with self.http.get(self.base_url + "/api/authenticate/prove", headers=self.headers) as response:
            body = await response.json()
        self.salts = tuple(body[f"salt{i}"] for i in range(1, 6))
        self.headers["Authorization"] = "Salter " + strip_junk(body["accessToken"], body["salt2"])
        return self

    async def get(self, path: str) -> int:
        async with self.http.get(self.base_url + path, headers=self.headers) as response:
            await response.read()
            return response.status

    async def floorsheet_page(self, page: int) -> bytes:
        body = {"id": payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=30, salts=self.salts)}
        url = f"{self.base_url}{FLOORSHEET}?page={page}&size=500&sort=contractId,desc"
        async with self.http.post(url, json=body, headers=self.headers) as response:
            return await response.read()


async def throughput(base_url: str, seconds: float, concurrency: int = 32) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        session = await Session(http, base_url).prove()
        for _ in range(200):  # warm up
            await session.get(MARKET_OPEN)
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                assert await session.get(MARKET_OPEN) == 200
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def page_latency(base_url: str, pages: int = 100, repeats: int = 3) -> tuple[list[float], list[float]]:
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        session = await Session(http, base_url).prove()
        await session.get(MARKET_OPEN)
        cold: list[float] = []
        warm: list[float] = []
        for round_ in range(1 + repeats):
            for page in range(pages):
                start = time.perf_counter()
                body = await session.floorsheet_page(page)
                (cold if round_ == 0 else warm).append((time.perf_counter() - start) * 1000)
                assert len(body) > 100_000
        return cold, warm


async def paced(base_url: str, rates: dict[str, float], seconds: float) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        sessions = {name: await Session(http, base_url).prove() for name in rates}
        await asyncio.sleep(1.0)  # every token starts with a full allowance

        async def run(name: str) -> list[int]:
            interval, statuses = 1.0 / rates[name], []
            start = time.perf_counter()
            for k in range(int(seconds * rates[name])):
                await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
                statuses.append(await sessions[name].get(MARKET_OPEN))
            return statuses

        results = await asyncio.gather(*(run(name) for name in rates))
        async with http.get(base_url + "/_sim/stats") as response:
            stats = await response.json()
    return {"statuses": dict(zip(rates, results, strict=True)), "stats": stats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the throughput run")
    args = parser.parse_args()

    with simulator(rate_limit=None) as sim:
        rate = asyncio.run(throughput(sim.base_url, args.seconds))
        cold, warm = asyncio.run(page_latency(sim.base_url))
    print(f"throughput, cheap GET, 32 connections:  {rate:8.0f} requests/s   (goal >= 1500)")
    for label, values in (("first request", cold), ("cached repeat", warm)):
        print(
            f"floorsheet page (500 rows), {label}: median {statistics.median(values):5.2f} ms, "
            f"p95 {percentile(values, 95) or 0:5.2f} ms   (goal: median < 5 ms)"
        )

    with simulator() as sim:
        result = asyncio.run(paced(sim.base_url, {"t0001 at 2/s": 2.0, "t0002 at 10/s": 10.0}, seconds=5.0))
    stats = result["stats"]
    for name, statuses in result["statuses"].items():
        label = name.split()[0]
        refused = sum(status == 429 for status in statuses)
        print(
            f"limits on, {name}: {len(statuses)} requests, {refused} refused with 429, "
            f"violations recorded {stats['violations_per_token'].get(label, 0)}"
        )
    print(
        f"limits on: rate_limit_violations {stats['rate_limit_violations']}, "
        f"max_rate_per_token {stats['max_rate_per_token']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
