"""Benchmark of NepseClient's HTTP path on a 500-row floorsheet page, the simulator in its own process.

Run ``python benchmarks/bench_client.py [--rounds 300]``. With the simulator's limits off and its page cache warm,
it measures, interleaved so that machine noise hits every contender alike:

1. **bare requests**: ``requests.Session.post(...).content``, the whole-body read with no cap and no deadline;
2. **transport**: :class:`~nepse_ray.nepse.transport.RequestsTransport` sending the same request (streamed body,
   size cap, per-attempt deadline);
3. **client**: ``NepseClient.floorsheet(page=..., size=500)``, i.e. the transport plus signing, JSON decoding and
   pydantic parsing of the 500 rows.

Reported: the median and p95 latency of each and the transport/bare ratio of medians (goal: streaming must not
slow a page noticeably, ratio <= 1.10). The machine is shared: expect +-30 % between runs, trust the ratio more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import requests

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.transport import RequestsTransport
from nepse_ray.pool.stats_math import percentile
from nepse_ray.sim import SimulatorProcess

FLOORSHEET = "/api/nots/nepse-data/floorsheet"
PAGES = 20


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="requests per contender")
    args = parser.parse_args()

    with SimulatorProcess(rate_limit=None, trades=PAGES * 500) as sim, NepseClient(sim.base_url, rate=1e6) as client:
        token = client.get_access_token()
        body = {"id": client.get_post_payload_id_for_floor_sheet()}
        headers = {"Authorization": f"Salter {token}", "Referer": sim.base_url + "/", "User-Agent": "bench"}
        url = sim.base_url + FLOORSHEET
        query = (("page", "0"), ("size", "500"), ("sort", "contractId,desc"))
        bare, transport = requests.Session(), RequestsTransport()

        def page(number: int) -> tuple[tuple[str, str], ...]:
            return (("page", str(number)), *query[1:])

        contenders: dict[str, Callable[[int], object]] = {
            "bare requests": lambda p: bare.post(url, params=page(p), json=body, headers=headers, timeout=30).content,
            "transport": lambda p: transport.send(
                "POST", url, headers=headers, params=page(p), json_body=body, timeout=(5.0, 30.0)
            ),
            "client": lambda p: client.floorsheet(page=p, size=500),
        }
        for p in range(PAGES):  # warm the simulator's page cache and every connection
            for call in contenders.values():
                call(p)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(args.rounds):
            for name, call in contenders.items():
                times[name].append(timed(lambda: call(round_ % PAGES)))  # noqa: B023 (called at once)
        size = len(bare.post(url, params=query, json=body, headers=headers, timeout=30).content)

    print(f"floorsheet page of 500 rows ({size:,} bytes), {args.rounds} requests each, interleaved:")
    for name, values in times.items():
        print(f"  {name:<14} median {statistics.median(values):6.2f} ms   p95 {percentile(values, 95) or 0:6.2f} ms")
    ratio = statistics.median(times["transport"]) / statistics.median(times["bare requests"])
    print(f"transport / bare requests, medians: {ratio:.2f}x   (goal <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
