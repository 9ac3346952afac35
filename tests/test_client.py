"""NepseClient against a fake NEPSE: headers, signing, every failure path, and the requests transport."""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import json
import logging
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from nepse_fakes import (
    BASE_URL,
    MARKET_OPEN_PATH,
    PROVE_PATH,
    SALT_SETS,
    SAMPLES,
    FakeClock,
    FakeNepse,
    html_response,
    json_response,
)

from nepse_ray.nepse import models as m
from nepse_ray.nepse.client import (
    DEFAULT_USER_AGENT,
    NepseClient,
    _retry_after_seconds,
    normalise_base_url,
    require_allowed_path,
)
from nepse_ray.nepse.endpoints import CATALOGUE, PreparedCall, prepare
from nepse_ray.nepse.errors import (
    NepseAuthError,
    NepseClientRequestError,
    NepseConnectionError,
    NepseEmptyPageError,
    NepseError,
    NepseForbiddenError,
    NepseInputError,
    NepseInvalidResponseError,
    NepsePathNotAllowedError,
    NepseRateLimitedError,
    NepseServerError,
    NepseTimeoutError,
)
from nepse_ray.nepse.payload import PayloadVariant, payload_id
from nepse_ray.nepse.transport import RawResponse, RequestsTransport

SUMMARY = "/api/nots/market-summary/"
FLOORSHEET = "/api/nots/nepse-data/floorsheet"
TODAY_PRICE = "/api/nots/nepse-data/today-price"
DETAIL = "/api/nots/security/131"
INDEX_GRAPH = "/api/nots/graph/index/58"
DEPTH = "/api/nots/nepse-data/marketdepth/131"

BODIES = {
    SUMMARY: SAMPLES["market_summary"],
    FLOORSHEET: SAMPLES["floorsheet"],
    TODAY_PRICE: SAMPLES["today_price"],
    DETAIL: SAMPLES["security_detail"],
    INDEX_GRAPH: SAMPLES["index_intraday_graph"],
    DEPTH: [],
}
SIGNED = {
    FLOORSHEET: PayloadVariant.FLOORSHEET,
    TODAY_PRICE: PayloadVariant.B,
    DETAIL: PayloadVariant.BASE,
    INDEX_GRAPH: PayloadVariant.GENERAL,
}


class Rig:
    """A client wired to a FakeNepse, a fake clock and a recording sleep; the limiter never waits."""

    def __init__(self, fake: FakeNepse | None = None, **options: Any) -> None:
        self.fake = fake or FakeNepse(bodies=BODIES, signed=SIGNED)
        self.clock = FakeClock()
        settings: dict[str, Any] = {"rate": 1e6, "burst": 10_000, "day": lambda: self.fake.day} | options
        self.client = NepseClient(BASE_URL, clock=self.clock, sleep=self.clock.sleep, transport=self.fake, **settings)

    def secrets(self) -> list[str]:
        """Everything that must never show in an error: tokens, salts, and every payload id sent."""
        ids = [str(s.json_body["id"]) for s in self.fake.sent if isinstance(s.json_body, dict)]
        return [*self.fake.secrets(), *ids]

    def body_ids(self, path: str) -> list[object]:
        return [s.json_body["id"] if isinstance(s.json_body, dict) else None for s in self.fake.requests_to(path)]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def assert_leaks_nothing(error: BaseException, secrets: list[str]) -> None:
    assert secrets, "a test must know what to look for"
    texts = [str(error), repr(error), pickle.dumps(error).decode("latin-1")]
    for secret in [*secrets, "Salter"]:
        for text in texts:
            assert secret not in text
    state = vars(error)
    assert not any(value in state.values() for value in (*SALT_SETS[0], *SALT_SETS[1], *SALT_SETS[2]))


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
        "rate_limit_wait_seconds": 0,
    }
    rig.client.market_summary()
    assert rig.client.stats()["requests_sent"] == 3


def test_seed_token_manager_surface(rig: Rig) -> None:
    issued_salts = SALT_SETS[0]
    assert rig.client.get_access_token() == rig.fake.issued[0].access_token
    assert rig.client.get_salts() == issued_salts
    assert rig.client.get_market_id() == 80
    assert rig.client.get_market_status().is_open == "OPEN"
    assert rig.client.get_post_payload_id() == 1036656  # m=80, d=12 with the notes' salts
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


# -- 401 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_401_or_403_reproves_once_and_retries_with_the_new_token(rig: Rig, status: int) -> None:
    rig.fake.script(SUMMARY, html_response(status))
    assert len(rig.client.market_summary()) == 2
    first, second = rig.fake.requests_to(SUMMARY)
    assert (first.token, second.token) == (rig.fake.issued[0].access_token, rig.fake.issued[1].access_token)
    stats = rig.client.stats()
    assert (stats["proves"], stats["reproves_on_401"], stats["reproves_on_403"]) == (2, status == 401, status == 403)


def test_signed_body_is_recomputed_with_the_salts_of_the_new_token(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, html_response(401))
    rig.client.floorsheet(page=0)
    expected = [
        payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=12, salts=SALT_SETS[0]),
        payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=12, salts=SALT_SETS[1]),
    ]
    assert rig.body_ids(FLOORSHEET) == expected
    assert expected[0] != expected[1]


def test_a_second_401_is_an_auth_error(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, html_response(401), html_response(401))
    with pytest.raises(NepseAuthError) as info:
        rig.client.floorsheet()
    error = info.value
    assert (type(error), error.retryable, error.status, error.endpoint) == (NepseAuthError, False, 401, "floorsheet")
    assert len(rig.fake.requests_to(FLOORSHEET)) == 2
    assert rig.client.stats()["proves"] == 2
    assert_leaks_nothing(error, rig.secrets())


# -- 403 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SUMMARY, FLOORSHEET])
def test_a_second_403_surfaces_and_is_not_retryable(rig: Rig, path: str) -> None:
    rig.fake.script(path, html_response(403), html_response(403), html_response(403))
    name = "market_summary" if path == SUMMARY else "floorsheet"
    with pytest.raises(NepseForbiddenError, match="403 again with a freshly proved token") as info:
        rig.client.call(name)
    error = info.value
    assert (error.retryable, error.status, error.endpoint) == (False, 403, name)
    assert len(rig.fake.requests_to(path)) == 2  # one retry, never a third request
    assert_leaks_nothing(error, rig.secrets())


# -- 429 ----------------------------------------------------------------------------------------------


def test_429_sleeps_retry_after_and_retries(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, json_response({"error": "slow down"}, 429, {"Retry-After": "3"}))
    rig.client.floorsheet()
    assert rig.clock.sleeps == [3.0]
    assert rig.client.stats()["rate_limited"] == 1
    ids = rig.body_ids(FLOORSHEET)
    assert len(ids) == 2 and ids[0] == ids[1]  # same token, so the same id, recomputed


def test_429_gives_up_after_max_retries(rig: Rig) -> None:
    rig.fake.script(SUMMARY, *[json_response({}, 429, {"retry-after": "3"})] * 3)
    with pytest.raises(NepseRateLimitedError) as info:
        rig.client.market_summary()
    error = info.value
    assert (type(error), error.retryable, error.status, error.retry_after) == (NepseRateLimitedError, True, 429, 3.0)
    assert rig.clock.sleeps == [3.0, 3.0]
    assert rig.client.stats()["rate_limited"] == 3
    assert_leaks_nothing(error, rig.secrets())


@pytest.mark.parametrize(
    ("header", "waits"),
    [(None, [1.0]), ("0", []), ("2.5", [2.5]), ("60", [60.0]), ("soon", [1.0]), ("Wed, 21 Oct 2015 07:28:00 GMT", [])],
)
def test_retry_after_forms(rig: Rig, header: str | None, waits: list[float]) -> None:
    headers = {} if header is None else {"Retry-After": header}
    rig.fake.script(SUMMARY, json_response({}, 429, headers))
    rig.client.market_summary()
    assert rig.clock.sleeps == pytest.approx(waits)


@pytest.mark.parametrize("header", ["61", "3600", "86400"])
def test_a_retry_after_beyond_the_cap_fails_at_once_and_says_how_long(rig: Rig, header: str) -> None:
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": header}))
    with pytest.raises(NepseRateLimitedError, match=f"asked to wait {header} s.*max_retry_after=60 s") as info:
        rig.client.market_summary()
    error = info.value
    assert (error.retryable, error.status, error.retry_after) == (False, 429, float(header))
    assert rig.clock.sleeps == [] and len(rig.fake.requests_to(SUMMARY)) == 1
    assert_leaks_nothing(error, rig.secrets())


def test_max_retry_after_is_configurable() -> None:
    rig = Rig(max_retry_after=5.0)
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "6"}))
    with pytest.raises(NepseRateLimitedError, match="max_retry_after=5 s"):
        rig.client.market_summary()


def test_a_429_pauses_the_whole_client_not_only_the_request_that_got_it() -> None:
    rig = Rig(max_rate_limit_retries=0)
    rig.client.market_summary()  # prove first
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "4"}))
    with pytest.raises(NepseRateLimitedError):
        rig.client.market_summary()
    refused_at = rig.clock()

    threads = [threading.Thread(target=rig.client.floorsheet) for _ in range(3)]  # other callers, other endpoints
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent = [s for s in rig.fake.sent if s.path == FLOORSHEET]
    assert len(sent) == 3
    assert rig.clock() - refused_at >= 4.0 - 1e-9  # nobody sent anything before the pause was over
    assert rig.clock.sleeps and rig.clock.sleeps[0] == pytest.approx(4.0, abs=0.02)


def test_retry_after_http_date_in_the_future() -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    assert 100 < _retry_after_seconds(when.strftime("%a, %d %b %Y %H:%M:%S GMT")) <= 120


def test_no_429_retries_when_disabled() -> None:
    rig = Rig(max_rate_limit_retries=0)
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "7"}))
    with pytest.raises(NepseRateLimitedError) as info:
        rig.client.market_summary()
    assert info.value.retry_after == 7.0
    assert rig.clock.sleeps == []


def test_429_on_the_prove_is_retried_too(rig: Rig) -> None:
    rig.fake.script(PROVE_PATH, json_response({}, 429))
    assert rig.client.get_access_token() == rig.fake.issued[0].access_token
    assert rig.clock.sleeps == [1.0]


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


def test_empty_with_both_variants_is_an_empty_page_error() -> None:
    rig = fallback_rig()
    rig.fake.script(TODAY_PRICE, json_response([]), json_response([]))
    with pytest.raises(NepseEmptyPageError) as info:
        rig.client.today_price()
    error = info.value
    assert (type(error), error.retryable, error.status, error.endpoint) == (
        NepseEmptyPageError,
        True,
        200,
        "today_price",
    )
    assert len(rig.fake.requests_to(TODAY_PRICE)) == 2
    stats = rig.client.stats()
    assert (stats["empty_page_fallbacks"], stats["empty_pages"]) == (1, 1)
    assert_leaks_nothing(error, rig.secrets())


def test_empty_without_a_fallback_candidate_fails_at_once(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, json_response([]))
    with pytest.raises(NepseEmptyPageError):
        rig.client.floorsheet()
    assert len(rig.fake.requests_to(FLOORSHEET)) == 1
    assert rig.client.stats()["empty_page_fallbacks"] == 0


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


# -- every other failure --------------------------------------------------------------------------------

FAILURES: list[tuple[str, RawResponse | NepseError, type[NepseError], bool, int | None]] = [
    ("html-200", html_response(200, "<!doctype html><html>maintenance</html>"), NepseInvalidResponseError, True, 200),
    ("empty-200", RawResponse(200, {}, b""), NepseInvalidResponseError, True, 200),
    ("text-200", RawResponse(200, {"Content-Type": "text/plain"}, b"error"), NepseInvalidResponseError, True, 200),
    ("binary-200", RawResponse(200, {}, b"\xff\xfe\x00"), NepseInvalidResponseError, True, 200),
    ("wrong-shape", json_response({"unexpected": True}), NepseInvalidResponseError, True, None),
    ("500", json_response({"message": "invalid jwe header"}, 500), NepseServerError, True, 500),
    ("502", html_response(502, "<html>Bad Gateway</html>"), NepseServerError, True, 502),
    ("503", RawResponse(503, {}, b""), NepseServerError, True, 503),
    ("400", json_response({"message": "bad"}, 400), NepseClientRequestError, False, 400),
    ("404", html_response(404), NepseClientRequestError, False, 404),
    ("301", RawResponse(301, {"Location": "https://x.test/"}, b""), NepseClientRequestError, False, 301),
    ("dropped", NepseConnectionError("POST /x: the connection was dropped"), NepseConnectionError, True, None),
    ("timeout", NepseTimeoutError("POST /x: timed out"), NepseTimeoutError, True, None),
]  # fmt: skip


@pytest.mark.parametrize("path", [SUMMARY, FLOORSHEET])
@pytest.mark.parametrize(
    ("answer", "kind", "retryable", "status"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_failures_map_to_named_errors(
    rig: Rig, path: str, answer: RawResponse | NepseError, kind: type[NepseError], retryable: bool, status: int | None
) -> None:
    rig.fake.script(path, copy.copy(answer))  # the client fills in a raised error's endpoint: use a fresh one
    name = "market_summary" if path == SUMMARY else "floorsheet"
    with pytest.raises(NepseError) as info:
        rig.client.call(name)
    error = info.value
    assert type(error) is kind
    assert (error.retryable, error.status, error.endpoint) == (retryable, status, name)
    assert len(rig.fake.requests_to(path)) == 1  # the client leaves these retries to its caller
    assert_leaks_nothing(error, rig.secrets())


def test_redirect_message_names_the_new_host(rig: Rig) -> None:
    rig.fake.script(SUMMARY, RawResponse(301, {"Location": "https://nepalstock.com.np/x"}, b""))
    with pytest.raises(NepseClientRequestError, match=r"redirects to https://nepalstock\.com\.np;"):
        rig.client.market_summary()


def test_invalid_response_message_describes_without_quoting(rig: Rig) -> None:
    rig.fake.script(SUMMARY, html_response(200, "<html>secret-looking page</html>"))
    with pytest.raises(NepseInvalidResponseError, match="HTML page") as info:
        rig.client.market_summary()
    assert "secret-looking" not in str(info.value)


# -- paths, base URL, TLS and options -----------------------------------------------------------------


REQUIRED = {"security_id": 1, "index_id": 58, "business_date": "2025-01-01"}
CATALOGUE_PATHS = sorted(
    {prepare(name, {p.name: REQUIRED[p.name] for p in e.params if p.required}).path for name, e in CATALOGUE.items()}
)


@pytest.mark.parametrize(
    "path", [PROVE_PATH, "/api/authenticate/refresh-token", "/assets/prod/css.wasm", "/api/nots", *CATALOGUE_PATHS]
)
def test_allowed_paths(path: str) -> None:
    require_allowed_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/admin",
        "/api/notsx/summary",
        "/api/authenticatex",
        "/api/nots/../admin",
        "/api/nots/./x",
        "/api/nots/%2e%2e/admin",
        "/api/nots/x?y=1",
        "/api/nots/x#y",
        "/assets/prod/main.js",
        "/assets/prod/css.wasm/x",
        "api/nots/x",
        "//evil.example/api/nots/x",
        "/api/nots/\u0661",
    ],
)
def test_disallowed_paths(path: str) -> None:
    with pytest.raises(NepsePathNotAllowedError):
        require_allowed_path(path)


def test_client_refuses_a_path_outside_the_allowlist_before_sending(rig: Rig) -> None:
    endpoint = CATALOGUE["market_open"]
    with pytest.raises(NepsePathNotAllowedError):
        rig.client._exchange(PreparedCall(endpoint, "/api/admin/users", ()), None)
    assert rig.fake.sent == []
    assert rig.client.stats()["requests_sent"] == 0


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("https://www.nepalstock.com", "https://www.nepalstock.com"),
        ("https://www.nepalstock.com/", "https://www.nepalstock.com"),
        ("HTTPS://nepalstock.com.np", "https://nepalstock.com.np"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_base_url_is_normalised(given: str, normalised: str) -> None:
    assert normalise_base_url(given) == normalised


@pytest.mark.parametrize(
    "given",
    [
        "www.nepalstock.com",
        "ftp://nepalstock.com",
        "https://",
        "https://nepalstock.com/api",
        "https://nepalstock.com?x=1",
        "https://nepalstock.com#top",
        "https://user:pw@nepalstock.com",
        "https://nepalstock.com:notaport",
        "https://[::1",
        "",
        None,
    ],
)
def test_bad_base_urls_are_rejected(given: object) -> None:
    with pytest.raises(NepseInputError, match="base_url must be"):
        NepseClient(given, transport=FakeNepse())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0},
        {"burst": 0},
        {"connect_timeout": 0},
        {"read_timeout": -1},
        {"read_timeout": float("inf")},
        {"max_rate_limit_retries": -1},
        {"max_rate_limit_retries": 1.5},
        {"max_retry_after": -1},
        {"ca_bundle": "/nonexistent/ca.pem"},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(NepseInputError):
        NepseClient(transport=FakeNepse(), **options)


def test_verify_false_warns_once_per_client(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="nepse_ray"):
        rig = Rig(verify=False)
        rig.client.market_summary()
        rig.client.market_summary()
    warnings = [r for r in caplog.records if r.name == "nepse_ray" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "verify=False" in warnings[0].getMessage()


def test_verification_on_by_default_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="nepse_ray"):
        client = NepseClient()
    assert caplog.records == []
    assert client._transport._session.verify is True  # type: ignore[attr-defined]
    client.close()


def test_ca_bundle_goes_to_requests(tmp_path: Any) -> None:
    bundle = tmp_path / "nepse-chain.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    client = NepseClient(ca_bundle=str(bundle))
    assert client._transport._session.verify == str(bundle)  # type: ignore[attr-defined]
    client.close()
    with pytest.raises(NepseInputError, match="verify=True"):
        NepseClient(ca_bundle=str(bundle), verify=False)


# -- the requests transport ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "retryable"),
    [
        (requests.ConnectionError("Connection aborted. RemoteDisconnected"), NepseConnectionError, True),
        (requests.exceptions.ChunkedEncodingError("incomplete read"), NepseConnectionError, True),
        (requests.ConnectTimeout("connect timed out"), NepseTimeoutError, True),
        (requests.ReadTimeout("read timed out"), NepseTimeoutError, True),
        (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), NepseConnectionError, False),
        (requests.exceptions.TooManyRedirects("loop"), NepseConnectionError, True),
    ],
)
def test_requests_failures_are_mapped_without_the_request(
    monkeypatch: pytest.MonkeyPatch, raised: requests.RequestException, kind: type[NepseError], retryable: bool
) -> None:
    request = requests.Request("POST", BASE_URL + FLOORSHEET, headers={"Authorization": "Salter tok-SECRET"})
    raised.request = request.prepare()
    transport = RequestsTransport()

    def fail(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(transport._session, "request", fail)
    with pytest.raises(NepseError) as info:
        transport.send(
            "POST", BASE_URL + FLOORSHEET + "?page=1", headers={"Authorization": "Salter tok-SECRET"},
            params=(("page", "1"),), json_body={"id": 4242}, timeout=(1.0, 1.0),
        )  # fmt: skip
    error = info.value
    assert (type(error), error.retryable) == (kind, retryable)
    assert str(error).startswith(f"POST {FLOORSHEET}:")
    assert error.__context__ is None and error.__cause__ is None
    for text in (str(error), repr(error), pickle.dumps(error).decode("latin-1")):
        assert "SECRET" not in text and "4242" not in text and "page=1" not in text


class LocalNepse(http.server.BaseHTTPRequestHandler):
    """Just enough HTTP to exercise RequestsTransport for real, on 127.0.0.1."""

    release = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        if self.path.startswith("/api/nots/drop"):
            self.close_connection = True
            return
        if self.path.startswith("/api/nots/hang"):
            self.release.wait(timeout=5)
        if self.path.startswith("/api/nots/moved"):
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.test/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        echo = {
            "method": self.command,
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "body": json.loads(self.rfile.read(length)) if length else None,
        }
        data = json.dumps(echo).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def local_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LocalNepse)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    LocalNepse.release.set()
    server.shutdown()
    server.server_close()


def test_requests_transport_round_trip(local_url: str) -> None:
    transport = RequestsTransport()
    raw = transport.send(
        "POST", local_url + "/api/nots/echo", headers={"Authorization": "Salter abc"},
        params=(("sort", "contractId,desc"), ("page", "2")), json_body={"id": 7}, timeout=(2.0, 2.0),
    )  # fmt: skip
    transport.close()
    assert (raw.status, raw.header("content-type")) == (200, "application/json")
    echo = json.loads(raw.body)
    assert echo == {
        "method": "POST",
        "path": "/api/nots/echo?sort=contractId%2Cdesc&page=2",
        "authorization": "Salter abc",
        "body": {"id": 7},
    }


def test_requests_transport_does_not_follow_redirects(local_url: str) -> None:
    raw = RequestsTransport().send(
        "GET", local_url + "/api/nots/moved", headers={}, params=(), json_body=None, timeout=(2.0, 2.0)
    )
    assert (raw.status, raw.header("Location")) == (302, "https://elsewhere.test/")


def test_requests_transport_dropped_connection(local_url: str) -> None:
    with pytest.raises(NepseConnectionError, match="GET /api/nots/drop: the connection failed or was dropped"):
        RequestsTransport().send(
            "GET", local_url + "/api/nots/drop", headers={}, params=(), json_body=None, timeout=(2.0, 2.0)
        )


def test_requests_transport_read_timeout(local_url: str) -> None:
    with pytest.raises(NepseTimeoutError, match="waiting for the answer"):
        RequestsTransport().send(
            "GET", local_url + "/api/nots/hang", headers={}, params=(), json_body=None, timeout=(2.0, 0.05)
        )
