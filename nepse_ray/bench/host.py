"""How the host ran during a benchmark run: the speed of one core on a fixed piece of Python, and the CPU time the
hypervisor gave to other guests (steal).

CPU figures (``scale-out``'s ms of CPU per page) move with both, for reasons outside the code: two quiet
``--only scale-out`` runs of the same commit on this machine, a day apart, differed by 20-25 % in every role alike
(workers, driver, simulator, coordinator, Ray's own). A report that carries these two figures says which runs can
be compared: runs whose loop times differ by more than a few percent measured different machines. The loop's
time also moves within minutes on a shared host (16.5-27.7 ms at rest, five samples 5 s apart on 2026-12-04), so a
run reports it at its start and at its end, and ``scale-out`` beside each window it judges.

>>> condition = HostCondition.from_samples((2.0, 1.5), steal=(10.0, 12.0), total=(1000.0, 1100.0))
>>> condition.loop_ms_start, condition.loop_ms_end, condition.steal_pct
(2.0, 1.5, 2.0)
"""

from __future__ import annotations

import dataclasses
import time

import psutil

#: Iterations of the fixed loop: 16-28 ms on one core of this machine, short enough to repeat.
LOOP_ITERATIONS = 200_000
#: Times the loop runs per sample; the fastest counts (the one least disturbed).
LOOP_REPEATS = 5


def loop_ms(iterations: int = LOOP_ITERATIONS, repeats: int = LOOP_REPEATS) -> float:
    """Milliseconds one core takes for a fixed loop of Python arithmetic and dict work, fastest of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        table: dict[int, int] = {}
        total = 0
        for number in range(iterations):
            total += number * 7 % 13
            table[number & 1023] = total
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def _cpu_seconds() -> tuple[float, float]:
    """The machine's steal and total CPU seconds so far (steal is 0 where the system does not report it)."""
    times = psutil.cpu_times()
    return float(getattr(times, "steal", 0.0)), float(sum(times))


@dataclasses.dataclass(frozen=True)
class HostCondition:
    """The loop's time at the start and at the end of a run, and the share of the machine's CPU time stolen by
    other guests over the run, in percent."""

    loop_ms_start: float
    loop_ms_end: float
    steal_pct: float

    @classmethod
    def from_samples(
        cls, loops: tuple[float, float], *, steal: tuple[float, float], total: tuple[float, float]
    ) -> HostCondition:
        elapsed = total[1] - total[0]
        stolen = 100.0 * (steal[1] - steal[0]) / elapsed if elapsed > 0 else 0.0
        return cls(round(loops[0], 2), round(loops[1], 2), round(stolen, 1))


class HostWatch:
    """Samples the host at the start of a run (construction) and at its end (:meth:`finish`)."""

    def __init__(self) -> None:
        self._loop = loop_ms()
        self._start = _cpu_seconds()

    def finish(self) -> HostCondition:
        end = _cpu_seconds()
        loops = (self._loop, loop_ms())
        return HostCondition.from_samples(loops, steal=(self._start[0], end[0]), total=(self._start[1], end[1]))
