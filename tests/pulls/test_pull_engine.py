"""The pull engine on a fake page source and a fake clock: windows, rounds, completeness and a live floorsheet."""

from __future__ import annotations

from typing import Any

import pytest
from pull_fakes import BASE, FakeClock, FakeSource, Listing, StillListing, floorsheet_page, price_page

from nepse_ray.nepse.errors import NepseClientRequestError, NepseInputError, NepseServerError
from nepse_ray.nepse.tables import PageBatch
from nepse_ray.pulls import IncompletePullError, PagingError, Progress, PullLimits, PullTooLargeError, Series
from nepse_ray.pulls.runner import pull_through

SIZE = 100
FLOORSHEET = Series("floorsheet", {}, key="contract_id", label="2025-10-30", drift=True)
NEWEST_FIRST = (("contract_id", "descending"),)
PRICES = Series("today_price", {}, key="security_id", label="today")
BY_ID = (("security_id", "ascending"),)


def limits(**changes: Any) -> PullLimits:
    return PullLimits(**{"size": SIZE, "window": 4, "round_delay": 2.0, **changes})


def run(source: FakeSource, clock: FakeClock, series: list[Series] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("limits", limits())
    kwargs.setdefault("sort", NEWEST_FIRST)
    return pull_through(source, series or [FLOORSHEET], clock=clock, **kwargs)


def contract_ids(result: Any) -> list[int]:
    ids: list[int] = result.to_arrow().column("contract_id").to_pylist()
    return ids


def test_a_closed_day_arrives_whole_within_the_window_each_trade_once() -> None:
    clock, listing = FakeClock(), Listing(total=2_345)
    source = FakeSource(lambda e, p, a: listing.page(p["page"], p["size"]), clock)
    progress: list[Progress] = []

    result = run(source, clock, on_progress=progress.append)

    assert (result.rows, result.expected, result.pages, result.complete) == (2_345, 2_345, 24, True)
    assert contract_ids(result) == list(range(BASE + 2_344, BASE - 1, -1))
    assert (result.duplicates_dropped, result.refetched_pages) == (0, 0)
    assert source.max_in_flight == 4 and len(source.submitted) == 24
    assert source.submitted[0][1] == {"page": 0, "size": SIZE}  # page 0 alone first: it names the page count
    assert progress[-1].pages_done == progress[-1].pages_total == 24 and progress[-1].rows == 2_345
    assert result.extras["totalTrades"] == 2_345


def test_a_page_that_fails_is_read_again_in_a_later_round_after_a_delay() -> None:
    clock, listing = FakeClock(), Listing(total=1_000)

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch | Exception:
        if params["page"] == 3 and attempt < 2:
            return NepseServerError("HTTP 502", endpoint=endpoint)
        return listing.page(params["page"], params["size"])

    source = FakeSource(answer, clock)
    result = run(source, clock)

    assert result.complete and result.rows == 1_000
    assert source.requests_for(3) == 3 and source.requests_for(4) == 1
    assert clock.now >= 2.0 + 4.0  # round 2 waited 2 s, round 3 4 s: no hammering, and no real sleeping
    assert result.refetched_pages == 0  # failed reads are not re-reads of rows


def test_a_page_that_never_succeeds_raises_with_the_missing_pages_and_the_partial_rows() -> None:
    clock, listing = FakeClock(), Listing(total=1_000)

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch | Exception:
        if params["page"] in (3, 7):
            return NepseServerError("HTTP 502", endpoint=endpoint)
        return listing.page(params["page"], params["size"])

    source = FakeSource(answer, clock)
    with pytest.raises(IncompletePullError) as caught:
        run(source, clock, limits=limits(max_rounds=3))

    error = caught.value
    assert error.missing == {"2025-10-30": (3, 7)}
    assert source.requests_for(3) == 3  # one per round
    assert isinstance(error.__cause__, NepseServerError) and "pages 3, 7" in str(error)
    partial = error.partial
    assert partial is not None and (partial.rows, partial.expected, partial.complete) == (800, 1_000, False)
    kept = set(contract_ids(partial))
    lost = {BASE + 999 - i for page in (3, 7) for i in range(page * SIZE, (page + 1) * SIZE)}
    assert kept == set(range(BASE, BASE + 1_000)) - lost


def test_an_error_that_is_not_retryable_ends_its_listing_at_once() -> None:
    clock, listing = FakeClock(), Listing(total=500)

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch | Exception:
        if params["page"] == 2:
            return NepseClientRequestError("HTTP 400", endpoint=endpoint)
        return listing.page(params["page"], params["size"])

    source = FakeSource(answer, clock)
    with pytest.raises(IncompletePullError) as caught:
        run(source, clock)
    assert source.requests_for(2) == 1 and isinstance(caught.value.__cause__, NepseClientRequestError)


def test_page_zero_failing_every_round_names_page_zero() -> None:
    clock = FakeClock()
    source = FakeSource(lambda e, p, a: NepseServerError("down", endpoint=e), clock)
    with pytest.raises(IncompletePullError) as caught:
        run(source, clock, limits=limits(max_rounds=2))
    assert caught.value.missing == {"2025-10-30": (0,)} and caught.value.partial.expected == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("grow", [1, 7, 30])
def test_a_live_floorsheet_returns_every_trade_that_existed_at_the_start_exactly_once(grow: int) -> None:
    clock, listing = FakeClock(), Listing(total=3_000, grow=grow)
    source = FakeSource(lambda e, p, a: listing.page(p["page"], p["size"]), clock, per_wait=3)

    result = run(source, clock)

    assert result.complete and result.expected == 3_000
    assert contract_ids(result) == list(range(BASE + 2_999, BASE - 1, -1))  # the start's trades, none newer
    assert result.duplicates_dropped > 0  # rows slid onto the next page and were read twice
    assert listing.total > 3_000 + 30 * grow
    if grow >= 30:  # pages answered out of order leave gaps that are read again
        assert result.refetched_pages > 0


def test_paging_that_does_not_add_up_is_refused() -> None:
    clock = FakeClock()
    source = FakeSource(lambda e, p, a: floorsheet_page([BASE], number=0, size=SIZE, total=1_000, pages=4), clock)
    with pytest.raises(IncompletePullError) as caught:
        run(source, clock)
    assert isinstance(caught.value.__cause__, PagingError) and "4 pages for 1000 rows" in str(caught.value)


def test_a_site_that_serves_smaller_pages_is_followed_at_its_size() -> None:
    clock, listing = FakeClock(), Listing(total=1_000)
    source = FakeSource(lambda e, p, a: listing.page(p["page"], 50), clock)
    result = run(source, clock)
    assert result.complete and result.pages == 20 and len(source.submitted) == 20


def test_more_pages_than_the_hard_maximum_is_refused() -> None:
    clock, listing = FakeClock(), Listing(total=100_000)
    source = FakeSource(lambda e, p, a: listing.page(p["page"], p["size"]), clock)
    with pytest.raises(IncompletePullError) as caught:
        run(source, clock, limits=limits(max_pages=50))
    assert isinstance(caught.value.__cause__, PullTooLargeError) and len(source.submitted) == 1


def test_many_listings_share_one_window_carry_their_labels_and_report_empty_ones() -> None:
    clock = FakeClock()
    sizes = {f"SYM{n}": (n % 4) * 130 for n in range(24)}  # some empty, some of 1-4 pages
    listings = {symbol: Listing(total) for symbol, total in sizes.items()}
    series = [
        Series("floorsheet", {"stock_id": n}, key="contract_id", label=symbol, constants=(("symbol", symbol),))
        for n, symbol in enumerate(sizes)
    ]

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch:
        return listings[f"SYM{params['stock_id']}"].page(params["page"], params["size"])

    source = FakeSource(answer, clock)
    result = run(source, clock, series=series, sort=())

    assert result.complete and result.rows == result.expected == sum(sizes.values())
    assert result.listings == 24 and sorted(result.unavailable) == sorted(s for s, n in sizes.items() if n == 0)
    table = result.to_arrow()
    assert table.schema.names[0] == "symbol"
    counts = table.group_by("symbol").aggregate([("contract_id", "count")]).to_pylist()
    assert {row["symbol"]: row["contract_id_count"] for row in counts} == {s: n for s, n in sizes.items() if n}
    assert source.max_in_flight == 4


def test_limits_are_checked() -> None:
    with pytest.raises(NepseInputError, match="window"):
        PullLimits(window=0)
    with pytest.raises(NepseInputError, match="round_delay"):
        PullLimits(round_delay=-1)


def symbols(*numbers: int) -> list[str]:
    return [f"SYM{n:03d}" for n in numbers]


def pull_prices(listing: StillListing, **kwargs: Any) -> Any:
    clock = FakeClock()
    source = FakeSource(lambda e, p, a: listing.page(p["page"], p["size"]), clock, per_wait=1)
    return run(source, clock, series=[PRICES], sort=BY_ID, **kwargs), source


@pytest.mark.parametrize("inserted", [1505, 5], ids=["after page 0", "at the top"])
def test_a_row_inserted_into_a_still_listing_while_it_is_read_is_read_again_whole(inserted: int) -> None:
    start = symbols(*range(10, 260))  # 250 rows: pages of 100, 100, 50
    listing = StillListing(start, inserts={1: symbols(inserted)[0]})  # arrives right after page 0 was read

    result, source = pull_prices(listing)

    assert result.complete and (result.rows, result.expected, result.pages) == (251, 251, 3)
    ids = sorted(int(symbol[3:]) for symbol in [*start, *symbols(inserted)])
    assert result.to_arrow().column("security_id").to_pylist() == ids  # every row once, the new one in
    assert len(source.submitted) > 3  # read again at its new size


def test_a_still_listing_that_never_holds_still_names_its_pages_and_why() -> None:
    listing = StillListing(symbols(*range(10, 260)), inserts={n: symbols(500 + n)[0] for n in range(1, 100)})

    with pytest.raises(IncompletePullError) as caught:
        pull_prices(listing, limits=limits(max_rounds=3))

    error = caught.value
    assert isinstance(error.__cause__, PagingError) and "changed 3 times" in str(error)
    assert error.missing["today"] and "0 page(s)" not in str(error)


def test_a_page_with_more_rows_than_its_size_never_makes_a_listing_keep_more_than_it_announced() -> None:
    real = symbols(*range(10, 260))
    junk = symbols(*range(600, 650))

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch:
        page = params["page"]
        rows = real[page * SIZE : (page + 1) * SIZE] + (junk if page == 1 else [])
        return price_page(rows, number=page, size=SIZE, total=250)

    clock = FakeClock()
    source = FakeSource(answer, clock, per_wait=1)
    try:
        result = run(source, clock, series=[PRICES], sort=BY_ID, limits=limits(max_rounds=2))
    except IncompletePullError as error:
        assert error.partial is not None and error.missing["today"]
        result = error.partial
    assert result.rows <= result.expected == 250


def test_a_round_waits_for_the_source_to_settle_then_at_most_settle_timeout() -> None:
    clock, listing = FakeClock(), Listing(total=500)

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch | Exception:
        if params["page"] == 2 and attempt == 0:
            return NepseServerError("HTTP 502", endpoint=endpoint)
        return listing.page(params["page"], params["size"])

    source = FakeSource(answer, clock, settles_at=30.0)  # the pool lost workers; they serve again at 30 s
    result = run(source, clock)
    assert result.complete and source.requests_for(2) == 2 and clock.now >= 30.0
    assert source.settled_asked > 1

    clock, listing = FakeClock(), Listing(total=500)
    never = FakeSource(answer, clock, settles_at=float("inf"))
    assert run(never, clock, limits=limits(settle_timeout=5.0)).complete  # waited 5 s, then went on
    assert 2.0 + 5.0 <= clock.now < 30.0


def test_round_delays_double_up_to_their_cap() -> None:
    waits = [PullLimits(round_delay=2.0, round_delay_cap=10.0).round_wait(n) for n in range(1, 6)]
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
