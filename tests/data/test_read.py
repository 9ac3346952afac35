"""Ray Data reads through a real pool on the session's Ray cluster against the simulator: exact counts before any
page is read, every trade once, ``map_batches`` and ``groupby`` over a day, a killed read task, the default pool."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import ray
from ray.data import Dataset

from nepse_ray.data import read_floorsheet, read_price_history, read_today_price
from nepse_ray.nepse.tables import schema
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pulls import UnknownSymbolError, price_history, securities, today_prices
from nepse_ray.sim import Simulator
from nepse_ray.testing import wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]
SimFactory = Callable[..., Simulator]


def floorsheet_requests(sim: Simulator) -> int:
    count: int = sim.stats()["requests_per_endpoint"].get("floorsheet", 0)
    return count


def rows(ds: Dataset) -> pa.Table:
    """Every row of ``ds``, block after block (no block at all for an empty dataset)."""
    blocks = ray.get(ds.to_arrow_refs())
    return pa.concat_tables(blocks) if blocks else pa.table({})


def assert_pulls_schema(ds: Dataset, endpoint: str) -> None:
    """The pulls' columns and types, but plain strings for the dictionary-encoded ones (Ray Data shuffles them)."""
    pulls, blocks = schema(endpoint), ds.schema().base_schema
    assert blocks.names == pulls.names
    for field in pulls:
        decoded = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        assert blocks.field(field.name).type == decoded, field.name


def truth_ids(sim: Simulator, count: int) -> set[int]:
    first: int = sim.stats()["first_contract_id"]
    return set(range(first, first + count))


def test_a_day_counts_before_any_page_is_read_and_holds_every_trade_once(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=10_000, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=50.0)  # a window of 8 pages: 2 tasks of 10 pages
    totals = api.floorsheet(page=0, size=1)  # the site's own totals of the day
    asked = floorsheet_requests(sim)

    ds = read_floorsheet(api=api)

    assert floorsheet_requests(sim) == asked + 1  # page 0, once, on the driver
    assert ds.count() == 10_000 == sim.stats()["floorsheet_rows"]
    assert floorsheet_requests(sim) == asked + 1  # counted without a page more
    assert_pulls_schema(ds, "floorsheet")

    table = rows(ds)
    ids = table.column("contract_id").to_pylist()
    assert len(ids) == len(set(ids)) == 10_000 and set(ids) == truth_ids(sim, 10_000)
    assert floorsheet_requests(sim) == asked + 1 + 20  # each page once

    amounts = ds.map_batches(
        lambda batch: {"trades": [batch.num_rows], "amount": [pc.sum(batch["contract_amount"]).as_py()]},
        batch_format="pyarrow",
    ).to_pandas()
    assert amounts["trades"].sum() == 10_000 and amounts["amount"].sum() == pytest.approx(totals.total_amount)

    # Per symbol in each block, summed over blocks (a Ray Data groupby starts a shuffle's actors: 10-20 s here).
    per_block = ds.map_batches(
        lambda batch: batch.group_by("stock_symbol").aggregate(
            [("contract_id", "count"), ("contract_quantity", "sum")]
        ),
        batch_format="pyarrow",
    ).to_pandas()
    by_symbol = per_block.astype({"stock_symbol": str}).groupby("stock_symbol").sum()
    expected = table.group_by("stock_symbol").aggregate([("contract_id", "count"), ("contract_quantity", "sum")])
    assert by_symbol["contract_id_count"].to_dict() == dict(
        zip(expected["stock_symbol"].to_pylist(), expected["contract_id_count"].to_pylist(), strict=True)
    )
    assert by_symbol["contract_quantity_sum"].sum() == pytest.approx(totals.total_qty)


def test_a_live_day_holds_the_trades_of_its_first_page_once_however_it_grows(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=8_000, market_open=True, live_trades_per_s=200.0, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=50.0)  # 16 pages and more: 2 parts
    api.market_open()

    ds = read_floorsheet(api=api)
    expected = ds.count()
    # A page's worth and more arrives before the parts run (the read is lazy: it starts at rows()).
    wait_until(lambda: sim.stats()["floorsheet_rows"], lambda grown: grown > expected + 500, timeout=60)
    ids = rows(ds).column("contract_id").to_pylist()

    assert expected >= 8_000 and len(ids) == len(set(ids)) == expected and set(ids) == truth_ids(sim, expected)


def test_prices_histories_one_symbol_an_empty_day_and_a_limit(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=10_000, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=50.0)
    day = dt.date.fromisoformat(sim.stats()["served_days"][-1])

    prices = read_today_price(api=api)
    assert prices.count() == today_prices(api).rows == rows(prices).num_rows > 100

    symbols = securities(api).to_arrow().column("symbol").to_pylist()[:3]
    start = day - dt.timedelta(days=30)
    history = rows(read_price_history(symbols, start=start, end=day, api=api))
    pulled = price_history(api, symbols, start=start, end=day).to_arrow()
    assert history.num_rows == pulled.num_rows > 3 * 15
    keys = ["symbol", "business_date"]
    assert history.select(keys).to_pylist() == pulled.select(keys).to_pylist()  # the same rows, in the same order
    alone = read_price_history(symbols[:1], start=start, end=day, api=api)  # one listing: counted from its page 0
    assert alone.count() == pc.sum(pc.equal(pulled["symbol"], symbols[0])).as_py() == rows(alone).num_rows

    whole = rows(read_floorsheet(api=api))
    symbol = whole.column("stock_symbol")[0].as_py()
    one = read_floorsheet(day, api=api, symbol=symbol.lower())
    kept = rows(one)
    assert one.count() == kept.num_rows == pc.sum(pc.equal(whole["stock_symbol"], symbol)).as_py() > 0
    assert set(kept.column("stock_symbol").to_pylist()) == {symbol}
    with pytest.raises(UnknownSymbolError, match=f"did you mean .*{symbol}"):
        read_floorsheet(api=api, symbol=symbol + "Q")

    saturday = day - dt.timedelta(days=(day.weekday() - 5) % 7)
    empty = read_floorsheet(saturday, api=api)
    assert empty.count() == 0 and rows(empty).num_rows == 0
    assert_pulls_schema(empty, "floorsheet")

    asked = floorsheet_requests(sim)
    first = read_floorsheet(api=api).select_columns(["contract_id", "stock_symbol"]).limit(50)
    assert rows(first).num_rows == 50
    assert floorsheet_requests(sim) - asked <= 1 + 2  # Ray pushed the limit into the read: one page per task at most


def test_a_read_task_killed_mid_way_is_read_again_and_every_trade_arrives_once(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=12_000, rate_limit=None, latency_ms=400)  # 24 pages, 2 at a time: ~5 s
    # A short task_timeout: the killed task's leases come back only when the pool gives up on them.
    api = nepse_pool_factory(sim, min_workers=1, max_workers=1, rate_per_token=50.0, task_timeout=4.0)
    ds = read_floorsheet(api=api, concurrency=1)  # 24 pages, 3 tasks of 8 pages, one after another
    asked = floorsheet_requests(sim)
    out: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: out.update(table=rows(ds)), daemon=True)
    reader.start()

    def read_tasks() -> list[psutil.Process]:
        def named(process: psutil.Process) -> bool:
            try:
                return "ray::ReadNepseFloorsheet" in " ".join(process.cmdline())
            except psutil.Error:
                return False

        return [p for p in psutil.Process().children(recursive=True) if named(p)]

    busy = wait_until(read_tasks, lambda tasks: len(tasks) == 1 and floorsheet_requests(sim) >= asked + 3, timeout=120)
    os.kill(busy[0].pid, signal.SIGKILL)  # a task with some of its 8 pages read
    reader.join(timeout=240)

    assert not reader.is_alive() and not psutil.pid_exists(busy[0].pid)
    ids = out["table"].column("contract_id").to_pylist()
    assert len(ids) == len(set(ids)) == 12_000 and set(ids) == truth_ids(sim, 12_000)
    assert floorsheet_requests(sim) - asked > 24  # the killed task's pages were read again


def test_without_api_a_read_joins_the_default_pool_as_it_runs(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=1_200, rate_limit=None)
    defaults = PoolOptions()
    # Not the default options (another site, other limits): joining with defaults would be refused.
    api = nepse_pool_factory(sim, pool_name=defaults.pool_name, namespace=defaults.namespace, rate_per_token=50.0)

    ds = read_floorsheet()

    assert ds.count() == 1_200 and len(set(rows(ds).column("contract_id").to_pylist())) == 1_200
    assert api.get_stats().total_workers >= 1  # the read left the pool running
