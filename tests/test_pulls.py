"""Bulk floorsheet pulls: merging pages by contract id, and a whole day through a real pool."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.nepse.models import FloorsheetResponse
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import _merge, pull_floorsheet
from nepse_ray.sim import Simulator


def _page(contract_ids: list[int], total: int) -> FloorsheetResponse:
    rows = [
        {
            "contractId": cid,
            "stockSymbol": "NABIL",
            "contractQuantity": 10,
            "contractRate": 500.0,
            "businessDate": "2025-10-30",
            "stockId": 131,
        }
        for cid in contract_ids
    ]
    return FloorsheetResponse.model_validate(
        {"floorsheets": {"content": rows, "totalPages": 2, "totalElements": total}}
    )


def test_pages_that_shifted_are_merged_once_per_contract_newest_first() -> None:
    # While trades arrive, a contract can slide from page 0 to page 1 and be served twice.
    pull = _merge([_page([105, 104, 103], 5), _page([103, 102, 101], 5)], pages=2)

    assert [row.contract_id for row in pull.rows] == [105, 104, 103, 102, 101]
    assert pull.duplicates_dropped == 1
    assert pull.complete


def test_a_short_pull_is_not_complete() -> None:
    assert not _merge([_page([3, 2], 4)], pages=2).complete


@pytest.mark.ray
def test_a_whole_day_through_the_pool_arrives_once_and_writes_csv(
    nepse_pool_factory: Callable[..., NepseWorkerAPI],
    nepse_sim_factory: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = nepse_sim_factory(trades=2_600, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=2, rate_per_token=50.0)
    progress: list[tuple[int, int]] = []

    pull = pull_floorsheet(api, on_page=lambda done, total: progress.append((done, total)))

    truth: dict[str, Any] = sim.stats()
    assert pull.pages == truth["floorsheet_pages"] == 6
    assert len(pull.rows) == truth["floorsheet_rows"] and pull.complete
    assert len({row.contract_id for row in pull.rows}) == len(pull.rows)
    assert progress[-1] == (6, 6)
    out = tmp_path / "floorsheet.csv"
    pull.to_csv(out)
    with out.open() as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 2_600 and int(records[0]["contractId"]) == pull.rows[0].contract_id
