"""A fake page source and clock for the pull engine: listings as plain data, answers in a scripted order."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from nepse_ray.nepse.tables import PageBatch, page_batch

BASE = 2025103005000001  # contract id of a day's first trade


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def floorsheet_page(ids: Sequence[int], *, number: int, size: int, total: int, pages: int | None = None) -> PageBatch:
    rows = [
        {"contractId": cid, "stockSymbol": f"S{cid % 7}", "contractQuantity": 10, "contractRate": 100.0 + cid % 13,
         "businessDate": "2025-10-30", "stockId": 100 + cid % 7}
        for cid in ids
    ]  # fmt: skip
    pages = math.ceil(total / size) if pages is None else pages
    return page_batch("floorsheet", {"floorsheets": {"content": rows, "totalElements": total, "totalPages": pages,
                                                     "number": number}, "totalTrades": total})  # fmt: skip


@dataclasses.dataclass
class Listing:
    """A floorsheet newest first: trades ``BASE .. BASE + total - 1``; ``grow`` more arrive after every answer."""

    total: int
    grow: int = 0

    def page(self, page: int, size: int) -> PageBatch:
        top = BASE + self.total - 1
        ids = [top - i for i in range(page * size, min((page + 1) * size, self.total))]
        answer = floorsheet_page(ids, number=page, size=size, total=self.total)
        self.total += self.grow
        return answer


def price_page(symbols: Sequence[str], *, number: int, size: int, total: int) -> PageBatch:
    """A today-price page: one row per symbol (security id = position in the sorted symbol list)."""
    rows = [
        {"businessDate": "2025-10-30", "securityId": int(symbol[3:]), "symbol": symbol, "closePrice": 100.0}
        for symbol in symbols
    ]
    pages = math.ceil(total / size)
    return page_batch("today_price", {"content": rows, "totalElements": total, "totalPages": pages, "number": number})


@dataclasses.dataclass
class StillListing:
    """A listing that should hold still (today's prices, sorted by symbol) but into which ``inserts`` rows arrive:
    ``inserts[n]`` is the symbol inserted after the ``n``-th answer."""

    symbols: list[str]
    inserts: dict[int, str] = dataclasses.field(default_factory=dict)
    answers: int = 0

    def page(self, page: int, size: int) -> PageBatch:
        answer = price_page(self.symbols[page * size : (page + 1) * size], number=page, size=size, total=len(self))
        self.answers += 1
        if self.answers in self.inserts:
            self.symbols = sorted([*self.symbols, self.inserts[self.answers]])
        return answer

    def __len__(self) -> int:
        return len(self.symbols)


Answer = Callable[[str, dict[str, Any], int], PageBatch | Exception]


class FakeSource:
    """Answers up to ``per_wait`` requests per ``wait``, newest submitted first (so pages land out of order).

    ``answer(endpoint, params, attempt)`` builds each answer (``attempt`` counts earlier requests of the same
    page). Waiting with nothing in flight moves the clock by the timeout; each answer moves it 0.01 s. The source
    says it is settled from ``settles_at`` on (the clock's time), and counts how often it was asked.
    """

    def __init__(self, answer: Answer, clock: FakeClock, per_wait: int = 3, settles_at: float = 0.0) -> None:
        self.answer = answer
        self.clock = clock
        self.per_wait = per_wait
        self.settles_at = settles_at
        self.settled_asked = 0
        self.submitted: list[tuple[str, dict[str, Any]]] = []
        self.max_in_flight = 0
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}
        self._attempts: dict[tuple[object, ...], int] = {}

    def submit(self, endpoint: str, params: dict[str, Any]) -> object:
        handle = len(self.submitted)
        self.submitted.append((endpoint, params))
        self._pending[handle] = (endpoint, params)
        self.max_in_flight = max(self.max_in_flight, len(self._pending))
        return handle

    def wait(self, handles: Sequence[object], timeout: float) -> list[tuple[object, PageBatch | Exception]]:
        if not handles:
            self.clock.now += timeout
            return []
        out: list[tuple[object, PageBatch | Exception]] = []
        numbers = sorted((handle for handle in handles if isinstance(handle, int)), reverse=True)  # all of them
        for handle in numbers[: self.per_wait]:
            endpoint, params = self._pending.pop(handle)
            key = (endpoint, *sorted((k, str(v)) for k, v in params.items()))
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            out.append((handle, self.answer(endpoint, params, attempt)))
            self.clock.now += 0.01
        return out

    def settled(self) -> bool:
        self.settled_asked += 1
        return self.clock.now >= self.settles_at

    def requests_for(self, page: int) -> int:
        return sum(1 for _, params in self.submitted if params["page"] == page)
