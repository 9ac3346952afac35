"""Live-stream scenario: a bulk pull beside a 1 s stream of the live market keeps >= 90 % of its rate, because the
pool's streams take at most ``stream_share`` of one token's rate while bulk work runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from ..pool.api import NepseWorkerAPI
from ..pulls import pull_floorsheet
from ..sim import SimulatorProcess
from .context import PAGE_ROWS, RATE_PER_TOKEN, BenchContext, warm
from .report import Goal, Value
from .scenario import Scenario
from .throughput import MIN_GAP

#: New trades a second on the simulated day in session (the live market changes between two polls).
TRADES_PER_S = 2.0


def stream_beside_pull(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Pages/s of floorsheet pulls alone and beside a subscriber of ``live_market`` polled every second, taken in
    turns (alone, beside, then beside, alone: the machine's drift falls on both) on one pool fixed at W workers at
    the site's limits; the stream's polls during the pulls beside it, its ticks, the simulator's rate violations and
    each token's smallest gap between two requests as they reached it, alone and beside the stream (arrival jitter
    on a loaded host shrinks both alike; a stream's poll sent out of the token's pace would shrink only the
    second)."""
    workers, pages, rounds = p["workers"], p["pages"], p["rounds"]
    sim = SimulatorProcess(seed=1, trades=pages * PAGE_ROWS, market_open=True, live_trades_per_s=TRADES_PER_S,
                           rate_limit=RATE_PER_TOKEN, burst=1, rate_leeway=0.25)  # fmt: skip
    alone, beside = _Pulls(sim), _Pulls(sim)
    ticks = 0
    try:
        api = context.pool(sim, min_workers=workers, max_workers=workers)
        try:
            warm(api, workers)
            for turn in range(rounds):
                for streamed in (False, True) if turn % 2 == 0 else (True, False):
                    if not streamed:
                        alone.pull(api)
                        continue
                    follower = _Follower(api)
                    follower.wait_for_ticks(2)  # subscribed and polling
                    beside.pull(api)
                    follower.stop()
                    ticks += follower.ticks
        finally:
            api.shutdown()
    finally:
        sim.close()
    return {
        "rate_kept": Value(beside.rate / alone.rate, "of the pulls alone"),
        "pull_alone": Value(alone.rate, "pages/s"),
        "pull_beside": Value(beside.rate, "pages/s"),
        "polls_per_s": Value(beside.polls / beside.seconds, "during the pulls"),
        "ticks": Value(ticks, ""),
        "violations": Value(alone.violations + beside.violations, ""),
        "min_gap_alone": Value(alone.min_gap, "s"),
        "min_gap_beside": Value(beside.min_gap, "s"),
    }


class _Pulls:
    """Whole floorsheet pulls, one after another: pages and seconds in all, and what the simulator counted during
    them (live-market polls, rate violations, the smallest gap between two requests of a token as they arrived)."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.sim = sim
        self.pages = self.polls = self.violations = 0
        self.seconds = 0.0
        self.min_gap = float("inf")

    def pull(self, api: NepseWorkerAPI) -> None:
        time.sleep(1.0 / RATE_PER_TOKEN)  # every token's bucket holds its one permit, as before the other pulls
        self.sim.reset_stats()
        began = time.perf_counter()
        day = pull_floorsheet(api)
        self.seconds += time.perf_counter() - began
        self.pages += day.pages
        stats = self.sim.stats()
        self.polls += stats["requests_per_endpoint"].get("live_market", 0)
        self.violations += stats["rate_limit_violations"]
        self.min_gap = min(self.min_gap, *stats["min_gap_per_token"].values())

    @property
    def rate(self) -> float:
        return self.pages / self.seconds


class _Follower:
    """A subscriber of the live market polled every second, in a thread of this driver, counting its ticks."""

    def __init__(self, api: NepseWorkerAPI) -> None:
        self.ticks = 0
        self._stream = api.stream("live_market", 1.0)
        self._ticked = threading.Condition()
        self._thread = threading.Thread(target=self._follow, name="bench-stream", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        for _ in self._stream:
            with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()

    def wait_for_ticks(self, ticks: int, timeout: float = 60.0) -> None:
        with self._ticked:
            self._ticked.wait_for(lambda: self.ticks >= ticks, timeout)

    def stop(self) -> None:
        self._stream.close()  # the thread's next long poll is its last
        self._thread.join(timeout=30.0)


SCENARIOS = (
    Scenario(
        "stream-beside-pull",
        "a floorsheet pull beside a subscriber of the live market polled every second (stream_share 0.1 of one "
        "token), against the same pull alone, pool fixed at W = 5, 2 req/s per token, a day in session",
        stream_beside_pull,
        full={"pages": 300, "workers": 5, "rounds": 2},
        quick={"pages": 60, "workers": 5, "rounds": 1},
        goals=(
            Goal("rate_kept", ">=", 0.90, "the pull keeps >= 90 % of its rate beside the stream"),
            Goal("ticks", ">=", 3, "the stream ticked meanwhile"),
            Goal("violations", "<=", 0, "0 rate violations"),
            Goal("min_gap_beside", ">=", MIN_GAP, f">= {MIN_GAP} s between a token's requests beside the stream"),
        ),
    ),
)
