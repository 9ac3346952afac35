"""The dataset never claims history the site did not give (issue #23 §3): the site serves about the last year of a
security's history whatever the dates asked, so a sync asked for five years records one year covered and four
unavailable, says so, and does not ask for those years again unless told to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from dataset_site import ClientSite

from nepse_ray import dataset
from nepse_ray.cli import main
from nepse_ray.dataset.plan import WINDOW_REASON
from nepse_ray.dataset.sync import run_sync
from nepse_ray.sim import Simulator


def test_five_years_asked_are_one_year_covered_and_four_unavailable_and_not_asked_again(
    nepse_sim_factory: Callable[..., Simulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = nepse_sim_factory(trades=100, rate_limit=None)
    site = ClientSite(sim.base_url, securities=6)
    today = dt.date.fromisoformat(sim.stats()["business_date"])
    since = today.replace(year=today.year - 5)

    first = run_sync(site, tmp_path, since=since, tables=["price_history"])

    series = dataset.snapshot(tmp_path).manifest.tables["price_history"].series
    assert len(series) == 6
    for symbol, entry in series.items():
        [(start, end)] = entry.covered
        assert end == today and 364 <= (today - start).days <= 366, symbol  # one year, as the site serves it
        assert entry.unavailable == [(since, start - dt.timedelta(days=1), WINDOW_REASON)], symbol
    history = dataset.open(tmp_path, "price_history").to_table()
    assert min(history.column("business_date").to_pylist()) >= today - dt.timedelta(days=366)
    assert first.gaps and all(line.startswith(f"price_history {since} .. ") for line in first.gaps)
    assert all(line.endswith(WINDOW_REASON) for line in first.gaps)

    asked = sim.stats()["requests_per_endpoint"]["security_price_history"]
    again = run_sync(site, tmp_path, since=since, tables=["price_history"])
    assert (again.pulls, again.gaps) == (0, [])
    assert sim.stats()["requests_per_endpoint"]["security_price_history"] == asked

    retried = run_sync(site, tmp_path, since=since, tables=["price_history"], retry_unavailable=True)
    assert retried.pulls == 1 and retried.gaps == first.gaps  # asked again, and still not served
    assert dataset.snapshot(tmp_path).manifest.tables["price_history"].series == series

    assert main(["sync", str(tmp_path), "--status"]) == 0
    shown = capsys.readouterr().out
    assert f"price_history: 1 file(s), {history.num_rows:,} rows" in shown
    assert f"  not served: {since} .. " in shown and WINDOW_REASON in shown
