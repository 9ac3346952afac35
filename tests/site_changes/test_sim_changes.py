"""The simulator's site changes: named in one table, switched on at start or while serving, listed in the stats, and
each changing what the site serves (the token module, signed ids, fields, methods)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from pydantic import ValidationError

from nepse_ray.cli import build_parser
from nepse_ray.nepse.decoder import KNOWN_MODULES, module_sha256
from nepse_ray.sim import SimConfig, Simulator
from nepse_ray.sim.changes import CHANGE_NAMES, CHANGES, normalise

SimFactory = Callable[..., Simulator]


def test_every_change_is_in_the_table_with_its_defaults() -> None:
    assert set(CHANGES) == set(CHANGE_NAMES) == {
        "wasm-table", "wasm-scheme", "payload-variant", "day-term", "field-rename", "field-drop", "get-to-post"
    }  # fmt: skip
    assert normalise("field-rename") == "field-rename:live_market.symbol=symbolCode"
    assert normalise("field-drop:floorsheet.buyerBrokerName") == "field-drop:floorsheet.buyerBrokerName"
    assert normalise("get-to-post") == "get-to-post:market_summary"


@pytest.mark.parametrize(
    "bad", ["no-such-change", "wasm-table:x", "field-rename:live_market.symbol", "field-drop:nowhere.x",
            "get-to-post:floorsheet"],
)  # fmt: skip
def test_a_bad_change_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        SimConfig(changes=(bad,))


def test_the_command_line_takes_changes() -> None:
    args = build_parser().parse_args(["sim", "--change", "wasm-scheme", "--change", "field-drop"])
    assert SimConfig.model_validate({"changes": args.changes}).changes == (
        "wasm-scheme",
        "field-drop:live_market.lastTradedPrice",
    )


def test_changes_switch_on_while_serving_and_show_in_the_stats(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=500, rate_limit=None)
    url = sim.base_url + "/assets/prod/css.wasm"
    assert module_sha256(requests.get(url, timeout=10).content) in KNOWN_MODULES
    answer = requests.post(sim.base_url + "/_sim/config", json={"changes": ["wasm-scheme", "get-to-post"]}, timeout=10)
    assert answer.status_code == 200 and answer.json()["changes"] == ["wasm-scheme", "get-to-post:market_summary"]
    assert module_sha256(requests.get(url, timeout=10).content) not in KNOWN_MODULES
    summary = requests.get(sim.base_url + "/api/nots/market-summary/", headers={"Referer": "x"}, timeout=10)
    assert summary.status_code == 405 and summary.headers["Allow"] == "POST"
    listed = sim.stats()["site_changes"]
    assert [entry["change"] for entry in listed] == ["wasm-scheme", "get-to-post:market_summary"]
    assert all(entry["what"] for entry in listed)
    refused = requests.post(sim.base_url + "/_sim/config", json={"changes": ["nope"]}, timeout=10)
    assert refused.status_code == 400 and "unknown site change" in refused.text


def test_a_post_to_a_get_endpoint_is_405_without_the_change(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=500, rate_limit=None)
    answer = requests.post(sim.base_url + "/api/nots/market-summary/", headers={"Referer": "x"}, timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
