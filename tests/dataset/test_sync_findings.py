"""What a sync must get right across runs and days (issue #16): orphans, older rows, empty days, foreign rows,
one failing symbol. Each runs on the real simulator through a ``NepseClient`` site and real files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from dataset_site import ClientSite
from dataset_writers import Job, run_writer

from nepse_ray import dataset
from nepse_ray.dataset.sync import run_sync
from nepse_ray.nepse.errors import NepseError, NepseServerError
from nepse_ray.sim import Simulator

THURSDAY = dt.date(2025, 10, 30)
SUNDAY = dt.date(2025, 11, 2)
MONDAY = dt.date(2025, 11, 3)
TUESDAY = dt.date(2025, 11, 4)
WEDNESDAY = dt.date(2025, 11, 5)

SimFactory = Callable[..., Simulator]


def site_on(factory: SimFactory, day: dt.date, **config: Any) -> Simulator:
    return factory(trades=200, business_date=day, rate_limit=None, **config)


def pairs(table: pa.Table, key: str) -> list[tuple[object, object]]:
    return list(zip(table.column(key).to_pylist(), table.column("business_date").to_pylist(), strict=True))


def test_a_history_part_orphaned_by_a_kill_does_not_double_rows_when_the_sync_resumes_on_a_later_day(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    since = (THURSDAY - dt.timedelta(days=10)).isoformat()
    first = site_on(nepse_sim_factory, THURSDAY)
    run_sync(ClientSite(first.base_url), tmp_path, since=since, tables=["securities"])
    killed = run_writer(Job(first.base_url, tmp_path, ((since, ("price_history",)),), crash="after-data-rename"))
    assert killed == -9  # died with a history part in place and not yet recorded

    later = site_on(nepse_sim_factory, SUNDAY)
    run_sync(ClientSite(later.base_url), tmp_path, since=since, tables=["price_history"])

    history = dataset.open(tmp_path, "price_history").to_table()
    rows = pairs(history, "symbol")
    assert len(rows) == len(set(rows)), "a symbol's day appears twice"
    assert len(set(history.column("symbol").to_pylist())) == 12
    assert max(history.column("business_date").to_pylist()) == SUNDAY


def test_index_history_keeps_the_rows_it_had_when_since_moves_on(nepse_sim_factory: SimFactory, tmp_path: Path) -> None:
    first_since = THURSDAY - dt.timedelta(days=20)
    run_sync(
        ClientSite(site_on(nepse_sim_factory, THURSDAY).base_url), tmp_path, since=first_since, tables=["index_history"]
    )
    later_since = SUNDAY - dt.timedelta(days=5)
    run_sync(
        ClientSite(site_on(nepse_sim_factory, SUNDAY).base_url), tmp_path, since=later_since, tables=["index_history"]
    )

    history = dataset.open(tmp_path, "index_history").to_table()
    nepse = history.filter(pc.equal(history["index_id"], 58))
    assert sorted(nepse.column("business_date").to_pylist()) == dataset.trading_days(first_since, SUNDAY)


def test_a_day_the_site_did_not_serve_is_tried_again_on_a_later_day_a_bounded_number_of_times(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    since = THURSDAY - dt.timedelta(days=3)  # Monday 10-27 .. Thursday 10-30
    first = run_sync(
        ClientSite(site_on(nepse_sim_factory, THURSDAY).base_url), tmp_path, since=since, tables=["floorsheet"]
    )
    assert len(first.unavailable) == 3  # the simulator serves only its own day

    # Served the next site day (with the two days before it): Wednesday 10-29 comes back.
    run_sync(
        ClientSite(site_on(nepse_sim_factory, SUNDAY, past_days=2).base_url),
        tmp_path,
        since=since,
        tables=["floorsheet"],
    )
    days = set(dataset.open(tmp_path, "floorsheet").to_table().column("business_date").to_pylist())
    assert days == {dt.date(2025, 10, 29), THURSDAY, SUNDAY}

    tried = []
    for day in (MONDAY, TUESDAY, WEDNESDAY):
        report = run_sync(
            ClientSite(site_on(nepse_sim_factory, day).base_url), tmp_path, since=since, tables=["floorsheet"]
        )
        tried.append(sorted(entry for entry in report.unavailable if entry < "floorsheet 2025-10-29"))
    # 10-27 and 10-28 were tried on Thursday, Sunday and Monday; then they are left alone.
    assert tried == [["floorsheet 2025-10-27", "floorsheet 2025-10-28"], [], []]


def test_a_day_answered_with_another_days_rows_is_not_recorded_as_that_day(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = site_on(nepse_sim_factory, THURSDAY, past_days=3)

    def latest_day_only(endpoint: str, params: dict[str, Any]) -> dict[str, Any] | None:
        # A site that ignores the date asked for and answers with its own day.
        return {**params, "business_date": THURSDAY} if endpoint == "today_price" else None

    site = ClientSite(sim.base_url, answer=latest_day_only)
    report = run_sync(site, tmp_path, since=THURSDAY - dt.timedelta(days=3), tables=["today_price"])

    prices = dataset.open(tmp_path, "today_price").to_table()
    rows = pairs(prices, "security_id")
    assert len(rows) == len(set(rows)), "a security's day appears twice"
    assert set(prices.column("business_date").to_pylist()) == {THURSDAY}
    assert sorted(report.unavailable) == [f"today_price 2025-10-{d}" for d in (27, 28, 29)]


def test_one_symbol_that_keeps_failing_does_not_cost_the_rest_of_its_chunk(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = site_on(nepse_sim_factory, THURSDAY)
    since = THURSDAY - dt.timedelta(days=10)
    run_sync(ClientSite(sim.base_url), tmp_path, since=since, tables=["securities"])
    securities = dataset.open(tmp_path, "securities").to_table().sort_by("id").slice(0, 12)
    failing_id, failing = securities.column("id")[3].as_py(), securities.column("symbol")[3].as_py()

    def one_symbol_fails(endpoint: str, params: dict[str, Any]) -> Exception | None:
        failing_now = endpoint == "security_price_history" and params["security_id"] == failing_id
        return NepseServerError("502 Bad Gateway", endpoint=endpoint) if failing_now else None

    with pytest.raises(NepseError) as caught:
        run_sync(ClientSite(sim.base_url, answer=one_symbol_fails), tmp_path, since=since, tables=["price_history"])

    assert failing in str(caught.value)
    history = dataset.open(tmp_path, "price_history").to_table()
    others = set(securities.column("symbol").to_pylist()) - {failing}
    assert set(history.column("symbol").to_pylist()) == others
