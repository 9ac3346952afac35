"""Bulk pulls on top of the pool: every page of a paged endpoint, de-duplicated, nothing lost.

>>> from nepse_ray import NepseWorkerAPI
>>> api = NepseWorkerAPI(base_url="http://127.0.0.1:8000")          # doctest: +SKIP
>>> pull = pull_floorsheet(api)                                      # doctest: +SKIP
>>> len(pull.rows), pull.pages                                       # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray

from .nepse.models import FloorsheetResponse, FloorsheetRow

if TYPE_CHECKING:
    from .pool.api import NepseWorkerAPI


@dataclasses.dataclass(frozen=True)
class FloorsheetPull:
    """The trades of one day, newest contract first, each contract once."""

    rows: list[FloorsheetRow]
    pages: int
    total_elements: int
    duplicates_dropped: int

    @property
    def complete(self) -> bool:
        """True when every trade the server announced arrived."""
        return len(self.rows) == self.total_elements

    def to_csv(self, path: Path) -> None:
        """Write the rows to ``path`` as CSV, with the site's camelCase column names."""
        records = [row.model_dump(by_alias=True, mode="json") for row in self.rows]
        columns = list(records[0]) if records else list(FloorsheetRow.model_fields)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(records)


def pull_floorsheet(
    api: NepseWorkerAPI,
    *,
    business_date: dt.date | str | None = None,
    on_page: Callable[[int, int], None] | None = None,
    **filters: Any,
) -> FloorsheetPull:
    """Fetch every floorsheet page through the pool in parallel and merge them by ``contractId``.

    Page 0 tells how many pages there are; the rest are submitted at once and the pool spreads them over its
    workers (scaling up as the queue demands). ``on_page(done, total)`` is called as pages arrive.
    Pages shift while the market is open, so rows are de-duplicated by contract id.
    """
    first: FloorsheetResponse = api.floorsheet(page=0, business_date=business_date, **filters)
    total_pages = first.floorsheets.total_pages
    pending = {
        api.remote.floorsheet(page=page, business_date=business_date, **filters) for page in range(1, total_pages)
    }
    responses = [first]
    if on_page:
        on_page(1, max(total_pages, 1))
    while pending:
        ready, rest = ray.wait(list(pending), num_returns=min(len(pending), 8), timeout=1.0)
        pending = set(rest)
        responses.extend(ray.get(ready))
        if on_page:
            on_page(len(responses), total_pages)
    return _merge(responses, total_pages)


def _merge(responses: list[FloorsheetResponse], pages: int) -> FloorsheetPull:
    by_contract: dict[int, FloorsheetRow] = {}
    seen = 0
    for response in responses:
        for row in response.floorsheets.content:
            seen += 1
            by_contract[row.contract_id] = row
    rows = sorted(by_contract.values(), key=lambda row: row.contract_id, reverse=True)
    total = max((r.floorsheets.total_elements for r in responses), default=0)
    return FloorsheetPull(rows=rows, pages=pages, total_elements=total, duplicates_dropped=seen - len(rows))
