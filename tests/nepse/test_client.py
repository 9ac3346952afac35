"""NepseClient against a fake NEPSE: the happy path (parsed models, headers, signing, one token shared)."""

from __future__ import annotations

import threading

import pytest
from client_rig import BODIES, DETAIL, FLOORSHEET, INDEX_GRAPH, SUMMARY, TODAY_PRICE, Rig
from nepse_fakes import BASE_URL, MARKET_OPEN_PATH, PROVE_PATH, SALT_SETS

from nepse_ray.nepse import models as m
from nepse_ray.nepse.client import DEFAULT_USER_AGENT
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.payload import PayloadVariant, payload_id

# -- the happy path -----------------------------------------------------------------------------------


def test_call_returns_parsed_models_and_sends_the_headers(rig: Rig) -> None:
    summary = rig.client.market_summary()
    assert [type(item) for item in summary] == [m.SummaryItem, m.SummaryItem]
    prove, market_open, request = rig.fake.sent
    assert (prove.path, market_open.path, request.path) == (PROVE_PATH, MARKET_OPEN_PATH, SUMMARY)
    for sent in rig.fake.sent:
        assert sent.headers["User-Agent"] == DEFAULT_USER_AGENT
        assert sent.headers["Referer"] == BASE_URL + "/"
        assert sent.headers["Accept"] == "application/json, text/plain, */*"
        assert sent.headers["Content-Type"] == "application/json"
    assert "Authorization" not in prove.headers
    assert request.headers["Authorization"] == "Salter " + rig.fake.issued[0].access_token
    assert (request.method, request.json_body) == ("GET", None)


def test_default_user_agent_names_the_project() -> None:
    assert DEFAULT_USER_AGENT.startswith("nepse-ray/")


def test_user_agent_and_referer_can_be_set() -> None:
    rig = Rig(user_agent="research-bot/1.0 (me@example.org)", referer="https://www.nepalstock.com.np/")
    rig.client.market_summary()
    assert rig.fake.sent[-1].headers["User-Agent"] == "research-bot/1.0 (me@example.org)"
    assert rig.fake.sent[-1].headers["Referer"] == "https://www.nepalstock.com.np/"


def test_call_by_name_is_the_same_path(rig: Rig) -> None:
    assert rig.client.call("market_summary") == rig.client.market_summary()
    with pytest.raises(NepseInputError, match="unknown endpoint"):
        rig.client.call("no_such_endpoint")
    with pytest.raises(NepseInputError, match="missing required argument security_id"):
        rig.client.call("security_detail")
    assert len(rig.fake.requests_to(SUMMARY)) == 2


@pytest.mark.parametrize(
    ("method", "path", "variant"),
    [
        ("floorsheet", FLOORSHEET, PayloadVariant.FLOORSHEET),
        ("today_price", TODAY_PRICE, PayloadVariant.B),
        ("security_detail", DETAIL, PayloadVariant.BASE),
        ("index_intraday_graph", INDEX_GRAPH, PayloadVariant.GENERAL),
    ],
)
def test_signed_endpoints_post_the_id_of_their_variant(rig: Rig, method: str, path: str, variant: str) -> None:
    argument = {"security_detail": {"security_id": 131}, "index_intraday_graph": {"index_id": 58}}
    result = getattr(rig.client, method)(**argument.get(method, {}))
    assert result == CATALOGUE[method].parse(BODIES[path])
    (sent,) = rig.fake.requests_to(path)
    expected = payload_id(PayloadVariant(variant), market_id=80, day=12, salts=SALT_SETS[0])
    assert (sent.method, sent.json_body) == ("POST", {"id": expected})


def test_every_request_takes_a_permit_from_the_bucket() -> None:
    rig = Rig(rate=2.0, burst=1)
    rig.client.market_summary()
    rig.client.market_summary()
    assert rig.clock.sleeps == pytest.approx([0.5, 0.5, 0.5])  # prove, market-open, summary, summary
    assert rig.client.stats()["requests_sent"] == 4
    assert rig.client.stats()["rate_limit_wait_seconds"] == pytest.approx(1.5)  # what the pool's metric adds up


def test_one_prove_serves_many_calls_until_the_token_ages(rig: Rig) -> None:
    for _ in range(3):
        rig.client.market_summary()
    rig.clock.advance(45)
    rig.client.market_summary()
    assert rig.client.stats()["proves"] == 2
    assert [s.token for s in rig.fake.requests_to(SUMMARY)][-2:] == [
        rig.fake.issued[0].access_token,
        rig.fake.issued[1].access_token,
    ]


def test_stats_are_plain_counters(rig: Rig) -> None:
    assert rig.client.stats() == {
        "requests_sent": 0,
        "proves": 0,
        "reproves_on_401": 0,
        "reproves_on_403": 0,
        "rate_limited": 0,
        "empty_page_fallbacks": 0,
        "empty_pages": 0,
        "payload_heal_requests": 0,
        "decoder_heals": 0,
        "rate_limit_wait_seconds": 0,
    }
    rig.client.market_summary()
    assert rig.client.stats()["requests_sent"] == 3


def test_session_methods(rig: Rig) -> None:
    issued_salts = SALT_SETS[0]
    assert rig.client.get_access_token() == rig.fake.issued[0].access_token
    assert rig.client.get_salts() == issued_salts
    assert rig.client.get_market_id() == 80
    assert rig.client.get_market_status().is_open == "OPEN"
    assert rig.client.get_post_payload_id() == 1036656  # m=80, d=12 with the salts of payload.py's worked example
    assert rig.client.get_post_payload_id_for_floor_sheet() == 889066
    assert [b.symbol for b in rig.client.get_security_brief()] == ["NABIL", "NICA"]
    assert rig.client.get_security_symbol_id_map() == {"NABIL": 131, "NICA": 2790}
    assert rig.client.stats()["proves"] == 1


def test_threads_share_one_token(rig: Rig) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                rig.client.market_summary()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rig.client.stats()["proves"] == 1
    assert rig.client.stats()["requests_sent"] == 2 + 100


def test_context_manager_closes_the_transport_and_repr_is_clean(rig: Rig) -> None:
    with rig.client as client:
        client.market_summary()
        text = repr(client)
    assert rig.fake.closed
    assert text == "NepseClient('https://nepse.test', rate=1e+06, burst=10000)"
    assert not any(secret in text for secret in rig.secrets())
