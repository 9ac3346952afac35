"""The ``site-change`` scenario (issue #22): what a site change costs once nepse-ray heals it, side by side in one run.

* the quick doctor against the simulator with its limits on (2 requests/s per token, burst 1), unchanged and under
  ``payload-variant`` + ``wasm-scheme`` (the changes that cost the most requests): requests sent, violations;
* a pull under ``wasm-scheme`` against one of the unchanged site, each pool warmed (and so healed) first, in
  alternating rounds: the pages per second of each, their ratio, and the extra requests the heal cost per worker
  (refused requests and css.wasm fetches);
* decoding a prove (its access and refresh token, fresh salts each time) with the site's module run in pywasm
  against the built-in decoder: the median extra milliseconds;
* a hostile module (too big, with an import, an endless loop): the longest time to its refusal.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Mapping
from typing import Any

from ..nepse.decoder import DecoderSpec, classify_module, decoder_for, strip
from ..nepse.errors import NepseDecoderError
from ..nepse.tokens import BUILTIN_SCHEME, JunkScheme, insert_junk
from ..pulls.engine import PullLimits
from ..pulls.market import pull_floorsheet
from ..sim.changes import TWO_DELETION_SCHEME
from ..sim.wasm import css_wasm, hostile_module
from .context import BenchContext, timed, warm
from .report import Goal, Value
from .scenario import Scenario

DAY_TRADES = 20_000
PAGE_ROWS = 100
WORKERS = 2


def _doctor(context: BenchContext, changes: list[str]) -> tuple[int, int]:
    from ..doctor import doctor

    sim = context.simulator(DAY_TRADES, changes=changes)
    report = doctor(sim.base_url)
    stats = sim.stats()
    assert report.verdict == ("ok" if not changes else "changed"), report
    return stats["requests_total"], stats["rate_limit_violations"]


def _pull_rate(context: BenchContext, changes: list[str], pages: int) -> tuple[float, dict[str, Any]]:
    """Pages per second of a pull of ``pages`` pages by a warmed pool; the simulator's stats of the whole pool life."""
    sim = context.simulator(DAY_TRADES, changes=changes)
    api = context.pool(sim, min_workers=WORKERS, max_workers=WORKERS)
    try:
        warm(api, WORKERS)
        limits = PullLimits(size=DAY_TRADES // pages)
        seconds = timed(lambda: pull_floorsheet(api, limits=limits))
        return pages / seconds, sim.stats()
    finally:
        api.shutdown(drain=False)


def _decode_ms(spec: DecoderSpec, proves: list[tuple[tuple[str, int], tuple[str, int]]]) -> float:
    """Median milliseconds to de-obfuscate a prove's two tokens (each with its own salt) with ``spec``'s decoder."""
    decoder = decoder_for(spec)
    times = [timed(lambda: [strip(decoder, token, salt) for token, salt in prove]) for prove in proves]  # noqa: B023
    return statistics.median(times) * 1000


def site_change(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    plain_requests, plain_violations = _doctor(context, [])
    changed_requests, changed_violations = _doctor(context, ["payload-variant", "wasm-scheme"])

    rates: dict[str, list[float]] = {"unchanged": [], "wasm-scheme": []}
    extra_per_worker = 0.0
    for _ in range(p["rounds"]):
        for name, changes in (("unchanged", []), ("wasm-scheme", ["wasm-scheme"])):
            rate, stats = _pull_rate(context, changes, p["pages"])
            rates[name].append(rate)
            if changes:
                extra = stats["responses_by_status"].get("401", 0) + stats["requests_per_endpoint"].get("css_wasm", 0)
                extra_per_worker = max(extra_per_worker, extra / WORKERS)

    rng, token = random.Random(22), "h." + "t" * 140
    pairs = [(rng.randrange(10_000, 2**31 - 1), rng.randrange(10_000, 2**31 - 1)) for _ in range(p["proves"])]

    def proves(scheme: JunkScheme, fillers: str) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        return [tuple((insert_junk(token, salt, fillers, scheme), salt) for salt in pair) for pair in pairs]  # type: ignore[misc]

    site_ms = _decode_ms(classify_module(css_wasm(TWO_DELETION_SCHEME)), proves(TWO_DELETION_SCHEME, "##"))
    builtin_ms = _decode_ms(DecoderSpec("builtin"), proves(BUILTIN_SCHEME, "#####"))

    refusals = []
    for kind in ("too-big", "imports", "endless-loop"):
        started = time.perf_counter()
        try:
            classify_module(hostile_module(kind))
        except NepseDecoderError:
            refusals.append(time.perf_counter() - started)
        else:
            raise AssertionError(f"the {kind} module was not refused")

    unchanged, healed = max(rates["unchanged"]), max(rates["wasm-scheme"])
    return {
        "doctor_requests": Value(max(plain_requests, changed_requests), ""),
        "doctor_requests_unchanged": Value(plain_requests, ""),
        "doctor_violations": Value(plain_violations + changed_violations, ""),
        "pull_pages_per_s_unchanged": Value(unchanged, "pages/s"),
        "pull_pages_per_s_wasm_scheme": Value(healed, "pages/s"),
        "throughput_ratio": Value(healed / unchanged, ""),
        "extra_requests_per_worker": Value(extra_per_worker, ""),
        "prove_decode_ms_builtin": Value(builtin_ms, "ms"),
        "prove_decode_ms_site_module": Value(site_ms, "ms"),
        "site_module_extra_ms": Value(site_ms - builtin_ms, "ms"),
        "hostile_refused_s": Value(max(refusals), "s"),
    }


SCENARIOS = (
    Scenario(
        "site-change",
        "a changed site: the quick doctor's requests, a pull under wasm-scheme against unchanged after healing, "
        "decoding with the site's module, refusing hostile modules",
        site_change,
        full={"pages": 100, "rounds": 2, "proves": 200},
        quick={"pages": 40, "rounds": 1, "proves": 50},
        goals=(
            Goal("doctor_requests", "<=", 30, "quick doctor: at most 30 requests"),
            Goal("doctor_violations", "<=", 0, "quick doctor: 0 violations of the site's limit"),
            Goal("throughput_ratio", ">=", 0.95, "pull under wasm-scheme >= 0.95 of unchanged, after healing"),
            Goal("extra_requests_per_worker", "<=", 2, "healing costs <= 2 extra requests per worker"),
            Goal("site_module_extra_ms", "<=", 10, "a prove decoded by the site's module <= 10 ms more (median)"),
            Goal("hostile_refused_s", "<=", 2, "a hostile module refused within 2 s"),
        ),
    ),
)
