"""A pool under each site change: a 100-page pull stays exact while the pool heals (the extra requests it cost are
counted and bounded), a required field gone fails the pull with an error naming the endpoint and the field, and an
optional one gone leaves nulls and one warning."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest

from nepse_ray import NepseWorkerAPI, pull_floorsheet
from nepse_ray.nepse.errors import NepseSchemaError
from nepse_ray.nepse.payload import DAY_TERMS, PayloadVariant
from nepse_ray.pulls.engine import PullLimits
from nepse_ray.sim import Simulator

#: A served day that is not today (nor its day of month), so the day-term change shows whatever the date.
PAST_DAY = dt.date.today() - dt.timedelta(days=7)

pytestmark = pytest.mark.ray

PAGES, SIZE, WORKERS = 100, 50, 2
SimFactory = Callable[..., Simulator]
PoolFactory = Callable[..., NepseWorkerAPI]


def pull_100_pages(sims: SimFactory, pools: PoolFactory, changes: list[str]) -> tuple[Any, Simulator, NepseWorkerAPI]:
    sim = sims(trades=PAGES * SIZE, rate_limit=None, changes=changes, business_date=PAST_DAY)
    api = pools(sim, min_workers=WORKERS, max_workers=WORKERS, rate_per_token=200.0)
    result = pull_floorsheet(api, limits=PullLimits(size=SIZE))
    return result, sim, api


@pytest.mark.parametrize(
    ("change", "decoder"),
    [("wasm-table", "site-table"), ("wasm-scheme", "site-module"), ("payload-variant", "builtin"),
     ("day-term", "builtin")],
)  # fmt: skip
def test_a_100_page_pull_stays_exact_while_the_pool_heals(
    nepse_sim_factory: SimFactory, nepse_pool_factory: PoolFactory, change: str, decoder: str
) -> None:
    result, sim, api = pull_100_pages(nepse_sim_factory, nepse_pool_factory, [change])
    assert result.complete and result.rows == result.expected == PAGES * SIZE and result.pages == PAGES
    assert len(set(result.to_arrow().column("contract_id").to_pylist())) == PAGES * SIZE
    stats, served = api.get_stats(), sim.stats()
    assert stats.token_decoder == decoder
    assert {worker["token_decoder"] for worker in api.ping_workers()} == {decoder}  # each worker's health says it
    floorsheet_requests = served["requests_per_endpoint"]["floorsheet"]
    extra = {
        "css_wasm": served["requests_per_endpoint"].get("css_wasm", 0),
        "refused market_open": served["responses_by_status"].get("401", 0),
        "payload search": stats.payload_heal_requests,
        "empty floorsheet pages": floorsheet_requests - PAGES - stats.payload_heal_requests,
    }
    print(f"{change}: extra requests {extra}")  # the healing's cost, for the report (pytest -s)
    if change.startswith("wasm"):
        assert extra["css_wasm"] == 1 and stats.token_module_fetches == 1  # one fetch per pool, not per worker
        assert extra["refused market_open"] <= WORKERS and floorsheet_requests == PAGES
    else:
        assert extra["css_wasm"] == 0 and stats.healed_payload_ids == {
            "floorsheet": stats.healed_payload_ids["floorsheet"]
        }
        assert 0 < stats.payload_heal_requests <= len(PayloadVariant) * len(DAY_TERMS)
        assert extra["empty floorsheet pages"] <= WORKERS  # each other worker meets one 200 [] before it learns


def test_a_required_field_gone_fails_the_pull_naming_endpoint_and_field(
    nepse_sim_factory: SimFactory, nepse_pool_factory: PoolFactory
) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=["field-rename:floorsheet.contractId=contractNo"])
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=200.0)
    with pytest.raises(NepseSchemaError) as failed:
        pull_floorsheet(api, limits=PullLimits(size=SIZE))
    message = str(failed.value)
    assert failed.value.endpoint == "floorsheet" and "contractId" in message and "contractNo" in message
    assert "validation error" not in message.lower() and len(message) < 400
    assert sim.stats()["requests_per_endpoint"]["floorsheet"] <= 2  # not retried: the next answer lacks it too


def test_an_optional_field_gone_leaves_nulls_and_one_warning(
    nepse_sim_factory: SimFactory, nepse_pool_factory: PoolFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=["field-drop:floorsheet.buyerBrokerName"])
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=200.0)
    with caplog.at_level(logging.WARNING, logger="nepse_ray"):
        result = pull_floorsheet(api, limits=PullLimits(size=SIZE))
    assert result.complete and result.rows == 1_000
    table = result.to_arrow()
    assert table.column("buyer_broker_name").null_count == 1_000
    assert table.column("seller_broker_name").null_count == 0
    warnings = [r for r in caplog.records if "buyerBrokerName" in r.getMessage()]
    assert len(warnings) == 1 and "floorsheet" in warnings[0].getMessage()
