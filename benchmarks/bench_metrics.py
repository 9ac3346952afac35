"""What the pool's Ray metrics cost: cached-call throughput with ``metrics=True`` against ``metrics=False``, one run.

Run ``python benchmarks/bench_metrics.py [--calls 2000] [--repeats 5]``. It starts its own local Ray instance on
127.0.0.1 (no dashboard) and the simulator in a subprocess, then two pools with the same options but ``metrics``,
each answering ``market_open`` from its result cache (the coordinator's cheapest path, where per-request costs show
most). Contenders alternate, so both see the same machine load; the best pipelined calls/s of each is reported, and
the median latency of sequential calls. Goal (issue #9): metrics on is less than 10 % slower.
"""

from __future__ import annotations

import argparse

from bench_pool import latency_p50s, pipelined  # first: it sets Ray's environment defaults (loopback, no usage stats)

# isort: split
import ray

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import SimulatorProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000, help="calls submitted at once per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds per contender")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False)
    with SimulatorProcess(trades=2_000, rate_limit=None) as sim:
        pools = {
            f"metrics {'on' if metrics else 'off'}": NepseWorkerAPI(
                base_url=sim.base_url,
                pool_name=f"bench-metrics-{'on' if metrics else 'off'}",
                min_workers=2,
                max_workers=2,
                metrics=metrics,
                max_queued=args.calls,
                cache_ttl={"market_open": 3600.0},
            )
            for metrics in (True, False)
        }
        try:
            for api in pools.values():
                ray.get([api.remote.market_open() for _ in range(100)])  # cached from here on
            rates = pipelined({name: api.remote.market_open for name, api in pools.items()}, args.calls, args.repeats)
            p50 = latency_p50s({name: api.market_open for name, api in pools.items()}, 300)
        finally:
            for api in pools.values():
                api.shutdown()
    on, off = rates["metrics on"], rates["metrics off"]
    print(f"cached market_open, {args.calls} calls pipelined, best of {args.repeats} (alternating):")
    for name in pools:
        print(f"  {name:<12} {rates[name]:8.0f} calls/s   p50 {p50[name] * 1000:.2f} ms (sequential)")
    print(f"  metrics on / off: {on / off:.3f} ({(1 - on / off) * 100:+.1f} % slower; goal < 10 %)")
    ray.shutdown()


if __name__ == "__main__":
    main()
