"""NepseClient and the site's ``200 []``: the fallback payload variant, then one search of the other payload rules
(issue #22), then NepseEmptyPageError."""

from __future__ import annotations

import pytest
from client_rig import BODIES, FLOORSHEET, INDEX_GRAPH, SIGNED, TODAY_PRICE, Rig, assert_leaks_nothing
from nepse_fakes import SALT_SETS, FakeNepse, json_response

from nepse_ray.nepse.errors import NepseEmptyPageError, NepseInvalidResponseError
from nepse_ray.nepse.payload import PayloadVariant, payload_id

# -- 200 [] ---------------------------------------------------------------------------------------------


def fallback_rig() -> Rig:
    # m=1, d=3 gives e=124: last digit 4, the one digit where variant B and the floorsheet variant differ.
    # The fake server accepts the floorsheet variant for today-price, so the default (B) gets 200 [].
    fake = FakeNepse(market_id=1, day=3, bodies=BODIES, signed=SIGNED | {TODAY_PRICE: PayloadVariant.FLOORSHEET})
    return Rig(fake)


def test_empty_today_price_falls_back_to_the_floorsheet_variant() -> None:
    rig = fallback_rig()
    page = rig.client.today_price(business_date="2026-04-03")
    assert page.content[0].symbol == "NABIL"
    salts = SALT_SETS[0]
    assert rig.body_ids(TODAY_PRICE) == [
        payload_id(PayloadVariant.B, market_id=1, day=3, salts=salts),
        payload_id(PayloadVariant.FLOORSHEET, market_id=1, day=3, salts=salts),
    ]
    assert len(set(rig.body_ids(TODAY_PRICE))) == 2
    stats = rig.client.stats()
    assert (stats["empty_page_fallbacks"], stats["empty_pages"]) == (1, 0)


def test_empty_with_every_rule_is_an_empty_page_error_after_one_search() -> None:
    rig = fallback_rig()
    rig.fake.script(TODAY_PRICE, *[json_response([])] * 30)  # no id is accepted
    with pytest.raises(NepseEmptyPageError) as info:
        rig.client.today_price()
    error = info.value
    assert (type(error), error.retryable, error.status, error.endpoint) == (
        NepseEmptyPageError,
        True,
        200,
        "today_price",
    )
    stats = rig.client.stats()
    searched = len(rig.fake.requests_to(TODAY_PRICE)) - 2
    assert searched == stats["payload_heal_requests"] > 0
    assert len({sent.json_body["id"] for sent in rig.fake.requests_to(TODAY_PRICE)}) == searched + 2  # type: ignore[index]
    assert (stats["empty_page_fallbacks"], stats["empty_pages"]) == (1, 1)
    assert_leaks_nothing(error, rig.secrets())
    with pytest.raises(NepseEmptyPageError):  # searched once: the next call tries the known rules only
        rig.client.today_price()
    assert len(rig.fake.requests_to(TODAY_PRICE)) == searched + 4


def test_empty_without_a_fallback_searches_the_other_rules_once(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, *[json_response([])] * 12)
    with pytest.raises(NepseEmptyPageError):
        rig.client.floorsheet()
    stats = rig.client.stats()
    assert len(rig.fake.requests_to(FLOORSHEET)) == 1 + stats["payload_heal_requests"]
    assert stats["empty_page_fallbacks"] == 0


def test_a_wrong_payload_id_is_caught_as_an_empty_page() -> None:
    rig = Rig(day=lambda: 13)  # the client signs with day 13, the server expects 12
    with pytest.raises(NepseEmptyPageError):
        rig.client.floorsheet()


def test_empty_list_is_a_real_answer_for_list_endpoints(rig: Rig) -> None:
    rig.fake.script(INDEX_GRAPH, json_response([]))
    assert rig.client.index_intraday_graph(58) == []
    assert rig.client.stats()["empty_pages"] == 0


def test_empty_list_from_an_unsigned_object_endpoint_is_an_invalid_response(rig: Rig) -> None:
    with pytest.raises(NepseInvalidResponseError):
        rig.client.market_depth(131)
