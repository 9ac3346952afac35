"""Pulls through a real pool against the simulator: every pull's dtypes, faults and worker kills, a live day."""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import (
    EmptyDayError,
    Progress,
    UnknownSymbolError,
    companies,
    index_history,
    price_history,
    pull_floorsheet,
    securities,
    today_prices,
)
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray

DICTIONARY = pa.dictionary(pa.int32(), pa.string())
NEPAL_TIME = pa.timestamp("us", tz="Asia/Kathmandu")


def truth_ids(sim: Simulator, rows: int) -> list[int]:
    """The contract ids of a day's first ``rows`` trades, newest first."""
    first: int = sim.stats()["first_contract_id"]
    return list(range(first + rows - 1, first - 1, -1))


def test_every_pull_has_real_dtypes_and_adds_up(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=2_600, past_days=1, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=2, rate_per_token=50.0)
    past, current = (dt.date.fromisoformat(day) for day in sim.stats()["served_days"])

    day = pull_floorsheet(api, out=tmp_path / "day.parquet")
    assert (day.rows, day.expected, day.pages, day.complete) == (2_600, 2_600, 6, True)
    trades = day.to_arrow()
    assert trades.column("contract_id").to_pylist() == truth_ids(sim, 2_600)
    types = {field.name: field.type for field in trades.schema}
    assert types["contract_id"] == types["contract_quantity"] == pa.int64()
    assert types["contract_rate"] == types["contract_amount"] == pa.float64()
    assert (types["business_date"], types["trade_time"], types["stock_symbol"]) == (pa.date32(), NEPAL_TIME, DICTIONARY)
    assert pq.read_table(tmp_path / "day.parquet").num_rows == 2_600
    frame = day.to_pandas()
    assert isinstance(frame["stock_symbol"].dtype, pd.CategoricalDtype)
    assert str(frame["trade_time"].dtype) == "datetime64[us, Asia/Kathmandu]"
    assert frame["trade_time"].dt.date.eq(current).all()

    earlier = pull_floorsheet(api, business_date=past)
    assert earlier.rows == 2_600 and set(earlier.to_arrow().column("business_date").to_pylist()) == {past}
    saturday = current - dt.timedelta(days=(current.weekday() - 5) % 7)
    with pytest.raises(EmptyDayError, match="is a Saturday") as weekend:
        pull_floorsheet(api, business_date=saturday)
    assert (weekend.value.latest, weekend.value.next_trading_day) == (current, saturday + dt.timedelta(days=1))
    holiday = past - dt.timedelta(days=1 if past.weekday() != 6 else 3)  # a trading weekday the site did not serve
    with pytest.raises(EmptyDayError, match="no trades on the site"):
        today_prices(api, holiday, out=tmp_path / "holiday.parquet")
    assert not (tmp_path / "holiday.parquet").exists()
    empty = pull_floorsheet(api, business_date=saturday, allow_empty=True)
    assert (empty.rows, empty.expected, empty.complete, empty.unavailable) == (0, 0, True, (str(saturday),))

    prices = today_prices(api)
    assert prices.complete and prices.rows == prices.expected > 100
    price_types = {f.name: f.type for f in prices.to_arrow().schema}
    assert (price_types["security_id"], price_types["close_price"], price_types["business_date"]) == (
        pa.int64(), pa.float64(), pa.date32())  # fmt: skip

    listed = securities(api)
    symbols = listed.to_arrow().column("symbol").to_pylist()[:3]
    assert listed.rows > 500 and companies(api).rows > 500
    history = price_history(api, symbols, start=current - dt.timedelta(days=30), end=current)
    table = history.to_arrow()
    assert history.complete and history.listings == 3 and history.rows == history.expected > 3 * 15
    assert set(table.column("symbol").to_pylist()) == set(symbols)
    assert table.schema.field("business_date").type == pa.date32()

    indices = index_history(api, [58, 57])  # the site's last year: one page of 500 each
    assert (
        indices.complete and indices.pages == 2 and set(indices.to_arrow().column("index_id").to_pylist()) == {57, 58}
    )

    typo = symbols[0][:-1] + ("X" if symbols[0][-1] != "X" else "Y")
    with pytest.raises(UnknownSymbolError, match=f"did you mean .*{symbols[0]}"):
        price_history(api, [typo])


def test_a_pull_under_faults_and_worker_kills_equals_the_ground_truth(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(
        trades=8_000, rate_limit=None, fault_5xx=0.1, fault_drop=0.05, fault_empty=0.1, fault_non_json=0.1
    )
    api = nepse_pool_factory(sim, min_workers=3, max_workers=3, rate_per_token=20.0, backoff_base=0.05)
    pids = [worker["pid"] for worker in api.ping_workers()]
    killed: list[int] = []

    def kill_workers(progress: Progress) -> None:
        if progress.pages_done >= 3 * (len(killed) + 1) and len(killed) < 2:
            os.kill(pids[len(killed)], signal.SIGKILL)
            killed.append(pids[len(killed)])

    result = pull_floorsheet(api, on_progress=kill_workers)

    assert len(killed) == 2
    assert result.complete and result.to_arrow().column("contract_id").to_pylist() == truth_ids(sim, 8_000)
    assert sum(sim.stats()["faults_injected"].values()) > 0


def test_a_pull_while_trades_keep_arriving_returns_every_trade_of_the_start_exactly_once(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=4_000, market_open=True, live_trades_per_s=200.0, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=3, max_workers=3, rate_per_token=10.0)
    api.market_open()  # tokens proved: the pull starts at once
    existed: int = sim.stats()["floorsheet_rows"]

    result = pull_floorsheet(api)

    after: int = sim.stats()["floorsheet_rows"]
    assert result.complete and result.expected >= existed
    assert result.to_arrow().column("contract_id").to_pylist() == truth_ids(sim, result.expected)
    assert after > result.expected  # trades kept arriving during the pull ...
    assert result.duplicates_dropped > 0  # ... and pushed rows onto pages read later
