"""Micro-benchmark of the pure protocol pieces: token de-obfuscation, payload ids and the rate limiter.

Run ``python benchmarks/bench_protocol.py``. Targets: de-obfuscation >= 200k tokens/s, rate-limiter overhead
< 5 µs per acquire on the no-wait path. Figures are the best of several repeats, on one thread.
"""

from __future__ import annotations

import timeit

from nepse_ray.nepse.payload import PayloadVariant, payload_id
from nepse_ray.nepse.ratelimit import TokenBucket
from nepse_ray.nepse.tokens import insert_junk, junk_positions, strip_junk

REPEATS = 5
SALTS = [(i * 7919) % 100_000 for i in range(1000)]
TOKENS = [insert_junk(f"{i:04d}" + "x" * 156, salt, "#####") for i, salt in enumerate(SALTS)]
SALT_SETS = [(s, (s * 3) % 99_999, (s * 5) % 99_999, (s * 7) % 99_999, 0) for s in SALTS]


def best_per_op(stmt: timeit.Timer, ops_per_run: int, runs: int) -> float:
    """Seconds per operation: the fastest of ``REPEATS`` timings of ``runs`` runs."""
    return min(stmt.repeat(repeat=REPEATS, number=runs)) / (ops_per_run * runs)


def bench_strip() -> float:
    pairs = list(zip(TOKENS, SALTS, strict=True))

    def run() -> None:
        for token, salt in pairs:
            strip_junk(token, salt)

    return 1.0 / best_per_op(timeit.Timer(run), len(pairs), 50)


def bench_positions() -> float:
    def run() -> None:
        for salt in SALTS:
            junk_positions(salt)

    return 1.0 / best_per_op(timeit.Timer(run), len(SALTS), 50)


def bench_payload_ids() -> float:
    variants = list(PayloadVariant)
    cases = [(variants[i % len(variants)], i % 100, i % 31 + 1, SALT_SETS[i]) for i in range(len(SALT_SETS))]

    def run() -> None:
        for variant, market_id, day, salts in cases:
            payload_id(variant, market_id=market_id, day=day, salts=salts)

    return 1.0 / best_per_op(timeit.Timer(run), len(cases), 20)


def bench_acquire() -> float:
    bucket = TokenBucket(rate=1e12, burst=1_000_000)  # never waits: measures the bookkeeping alone
    return best_per_op(timeit.Timer(bucket.acquire), 1, 200_000) * 1e6


def main() -> None:
    strip_rate = bench_strip()
    print(f"positions + strip:   {strip_rate:>12,.0f} tokens/s   (target >= 200,000)")
    print(f"positions only:      {bench_positions():>12,.0f} salts/s")
    print(f"payload ids:         {bench_payload_ids():>12,.0f} ids/s")
    acquire_us = bench_acquire()
    print(f"rate-limit acquire:  {acquire_us:>12.3f} µs/acquire (no-wait path, target < 5)")


if __name__ == "__main__":
    main()
