"""Reads cut into parts, and the pull engine reading one part of a listing, on a fake source and a fake clock."""

from __future__ import annotations

import dataclasses

import pytest
from pull_fakes import BASE, FakeClock, FakeSource, Listing

from nepse_ray.data.parts import split_listing, task_spans
from nepse_ray.pulls import PullLimits, Series
from nepse_ray.pulls.engine import Part
from nepse_ray.pulls.market import FLOORSHEET_ORDER
from nepse_ray.pulls.runner import pull_through

SIZE = 100
FLOORSHEET = Series("floorsheet", {}, key="contract_id", label="2025-10-30", drift=True)


@pytest.mark.parametrize(("items", "wanted", "per_task"), [(0, 200, 8), (1, 4, 8), (10, 4, 3), (100, 4, 8),
                                                            (100, 200, 8), (7, 200, 1), (1_000, 3, 1)])  # fmt: skip
def test_spans_cover_every_item_once_in_order_and_never_below_the_task_minimum(
    items: int, wanted: int, per_task: int
) -> None:
    spans = task_spans(items, wanted, per_task)
    assert [i for span in spans for i in span] == list(range(items))
    assert 1 <= len(spans) <= max(1, wanted)
    assert len(spans) == 1 or min(len(span) for span in spans) >= per_task
    assert max(map(len, spans)) - min(map(len, spans)) <= 1


def test_parts_are_whole_pages_that_cover_every_rank_once() -> None:
    parts = split_listing(expected=2_345, size=SIZE, wanted=4, per_task=5)
    assert [(part.first, part.stop) for part in parts] == [(0, 600), (600, 1_200), (1_200, 1_800), (1_800, 2_345)]
    assert sum(part.rows for part in parts) == 2_345
    assert {(part.expected, part.size) for part in parts} == {(2_345, SIZE)}
    assert split_listing(expected=0, size=SIZE, wanted=4, per_task=5) == [Part(0, SIZE, 0, 0)]


def read_parts(listing: Listing, parts: list[Part], clock: FakeClock) -> tuple[list[int], FakeSource]:
    """Read ``parts`` one after another (as Ray Data's tasks might), the listing growing meanwhile."""
    source = FakeSource(lambda e, p, a: listing.page(p["page"], p["size"]), clock, per_wait=3)
    ids: list[int] = []
    limits = PullLimits(size=SIZE, window=4)
    for part in parts:
        one_part = [dataclasses.replace(FLOORSHEET, part=part)]
        result = pull_through(source, one_part, sort=FLOORSHEET_ORDER, limits=limits, clock=clock)
        assert result.complete and result.rows == result.expected == part.rows
        ids += result.to_arrow().column("contract_id").to_pylist()
    return ids, source


def test_a_part_of_a_closed_day_reads_only_its_own_pages_and_keeps_only_its_rows() -> None:
    clock, listing = FakeClock(), Listing(total=2_345)
    parts = split_listing(2_345, SIZE, wanted=4, per_task=5)

    ids, source = read_parts(listing, parts, clock)

    assert ids == list(range(BASE + 2_344, BASE - 1, -1))
    assert sorted(params["page"] for _, params in source.submitted) == list(range(24))  # no page 0 first, no re-read


@pytest.mark.parametrize("grow", [1, 7, 30])
def test_parts_of_a_live_day_read_after_it_grew_hold_every_trade_of_the_start_once(grow: int) -> None:
    clock, listing = FakeClock(), Listing(total=3_000, grow=grow)
    parts = split_listing(3_000, SIZE, wanted=5, per_task=4)  # planned on page 0's total; trades keep arriving

    ids, _ = read_parts(listing, parts, clock)

    assert ids == list(range(BASE + 2_999, BASE - 1, -1))  # the start's trades, in order, none newer, none twice
    assert listing.total > 3_000 + 30 * grow


def test_a_part_cut_by_a_row_limit_reads_only_the_pages_of_its_first_rows() -> None:
    clock, listing = FakeClock(), Listing(total=2_345)
    parts = split_listing(2_345, SIZE, wanted=4, per_task=5, limit=150)

    ids, source = read_parts(listing, parts, clock)

    assert len(ids) == 4 * 150 == len(set(ids))
    assert sorted(params["page"] for _, params in source.submitted) == [0, 1, 6, 7, 12, 13, 18, 19]
