"""TokenManager against a fake NEPSE: token age by the local clock, single flight, market id per Nepal date."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections.abc import Callable

import pytest
from nepse_fakes import (
    BASE_URL,
    MARKET_OPEN_PATH,
    PROVE_PATH,
    SALT_SETS,
    SECURITY_PATH,
    FakeClock,
    FakeNepse,
    html_response,
    json_response,
)

from nepse_ray.nepse.auth import TokenManager
from nepse_ray.nepse.client import decode_response
from nepse_ray.nepse.endpoints import PreparedCall
from nepse_ray.nepse.errors import (
    NepseAuthError,
    NepseHandshakeError,
    NepseHeaderValueError,
    NepseInvalidResponseError,
    NepseServerError,
)
from nepse_ray.nepse.payload import PayloadVariant, payload_id
from nepse_ray.nepse.transport import RawResponse


class Fixture:
    """A TokenManager whose fetch goes straight to a FakeNepse, with a hand-moved clock and Nepal date."""

    def __init__(self, day: Callable[[], int] | None = None) -> None:
        self.fake = FakeNepse()
        self.clock = FakeClock()
        self.date = dt.date(2026, 4, 2)
        self.manager = TokenManager(self.fetch, clock=self.clock, today=lambda: self.date, day=day)

    def fetch(self, call: PreparedCall, token: str | None) -> object:
        headers = {} if token is None else {"Authorization": f"Salter {token}"}
        raw = self.fake.send(
            call.endpoint.method, BASE_URL + call.path, headers=headers, params=call.query, json_body=None,
            timeout=(1.0, 1.0),
        )  # fmt: skip
        return decode_response(raw, call.endpoint.name)


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def test_first_use_proves_strips_and_fetches_market_open(fx: Fixture) -> None:
    state = fx.manager.session()
    (issued,) = fx.fake.issued
    assert state.access_token == issued.access_token  # salt2-stripped
    assert state.refresh_token == issued.refresh_token  # salt1-stripped
    assert state.salts == SALT_SETS[0]
    assert state.market_id == 80
    assert [s.path for s in fx.fake.sent] == [PROVE_PATH, MARKET_OPEN_PATH]
    assert "Authorization" not in fx.fake.sent[0].headers
    assert fx.fake.sent[1].token == issued.access_token
    assert fx.manager.proves == 1


def test_token_is_reused_for_45_seconds_of_local_clock(fx: Fixture) -> None:
    # The fake's serverTime is from 2022; a manager that compared it with a clock would re-prove every time.
    first = fx.manager.get_access_token()
    fx.clock.advance(44.9)
    assert fx.manager.get_access_token() == first
    assert fx.manager.proves == 1
    fx.clock.advance(0.1)
    second = fx.manager.get_access_token()
    assert second != first
    assert fx.manager.proves == 2
    assert fx.manager.get_salts() == SALT_SETS[1]


def test_every_prove_is_followed_by_market_open_with_the_new_token(fx: Fixture) -> None:
    fx.manager.session()
    fx.clock.advance(45)
    fx.manager.session()
    market_calls = fx.fake.requests_to(MARKET_OPEN_PATH)
    assert [c.token for c in market_calls] == [i.access_token for i in fx.fake.issued]


def test_market_id_is_refetched_when_the_nepal_date_changes(fx: Fixture) -> None:
    assert fx.manager.get_market_id() == 80
    fx.fake.market_id = 81
    fx.clock.advance(10)
    assert fx.manager.get_market_id() == 80  # same date, same token: cached
    fx.date += dt.timedelta(days=1)
    assert fx.manager.get_market_id() == 81  # new date: fetched again, with the same token
    assert fx.manager.proves == 1
    assert len(fx.fake.requests_to(MARKET_OPEN_PATH)) == 2
    fx.clock.advance(10)
    assert fx.manager.get_market_id() == 81
    assert len(fx.fake.requests_to(MARKET_OPEN_PATH)) == 2


def test_a_401_from_market_open_gets_the_same_single_reprove(fx: Fixture) -> None:
    fx.manager.session()
    fx.date += dt.timedelta(days=1)
    fx.fake.script(MARKET_OPEN_PATH, html_response(401))
    assert fx.manager.authorised(lambda state: state.access_token) == fx.fake.issued[1].access_token
    assert (fx.manager.proves, fx.manager.reproves_on_401) == (2, 1)


def test_a_failed_market_refresh_starts_over_with_a_new_prove(fx: Fixture) -> None:
    fx.manager.session()
    fx.date += dt.timedelta(days=1)
    fx.fake.script(MARKET_OPEN_PATH, html_response(502))
    with pytest.raises(NepseServerError):
        fx.manager.session()
    assert fx.manager.get_market_id() == 80
    assert fx.manager.proves == 2


def test_market_status_is_the_cached_market_open(fx: Fixture) -> None:
    status = fx.manager.get_market_status()
    assert (status.is_open, status.id) == ("OPEN", 80)
    status.id = 5  # a caller's copy: the cache is not affected
    assert fx.manager.get_market_id() == 80
    assert len(fx.fake.requests_to(MARKET_OPEN_PATH)) == 1


def test_payload_ids_use_the_current_salts_and_the_nepal_day(fx: Fixture) -> None:
    fx.date = dt.date(2026, 4, 12)
    assert fx.manager.get_salts() == SALT_SETS[0]
    assert fx.manager.get_post_payload_id() == 1036656  # the worked example of payload.py's docstring: m=80, d=12
    assert fx.manager.get_post_payload_id_for_floor_sheet() == 889066
    fx.clock.advance(45)  # a new token brings new salts
    assert fx.manager.get_post_payload_id() == payload_id(
        PayloadVariant.GENERAL, market_id=80, day=12, salts=SALT_SETS[1]
    )


def test_day_can_be_overridden() -> None:
    fx = Fixture(day=lambda: 3)
    expected = payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=3, salts=SALT_SETS[0])
    assert fx.manager.get_post_payload_id_for_floor_sheet() == expected


def test_single_flight_sixteen_threads_one_prove(fx: Fixture) -> None:
    fx.fake.prove_gate = threading.Event()
    results: list[str] = []
    ready = threading.Barrier(16)

    def ask() -> None:
        ready.wait()
        results.append(fx.manager.get_access_token())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    assert fx.fake.prove_entered.wait(timeout=10)
    wait_until_all_inside_session(threads)  # 1 proving, 15 queued behind it
    fx.fake.prove_gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(fx.fake.requests_to(PROVE_PATH)) == 1
    assert fx.manager.proves == 1
    assert len(results) == 16
    assert set(results) == {fx.fake.issued[0].access_token}


def wait_until_all_inside_session(threads: list[threading.Thread]) -> None:
    """Spin (yielding, not sleeping a guessed time) until every thread is somewhere inside session()."""
    ids = [t.ident for t in threads if t.ident is not None]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frames = sys._current_frames()
        inside = 0
        for ident in ids:
            frame = frames.get(ident)
            while frame is not None and frame.f_code.co_name != "session":
                frame = frame.f_back
            inside += frame is not None
        if inside == len(ids):
            return
        time.sleep(0)
    raise AssertionError("threads did not all reach TokenManager.session")


def test_invalidate_drops_only_the_current_token(fx: Fixture) -> None:
    token = fx.manager.get_access_token()
    fx.manager.invalidate("some-older-token")
    assert fx.manager.get_access_token() == token
    fx.manager.invalidate(token)
    assert fx.manager.get_access_token() != token
    assert fx.manager.proves == 2


def test_authorised_reproves_once_on_401(fx: Fixture) -> None:
    seen: list[str] = []

    def attempt(state: object) -> str:
        token = state.access_token  # type: ignore[attr-defined]
        seen.append(token)
        if len(seen) == 1:
            raise NepseAuthError("x: HTTP 401", endpoint="x", status=401)
        return "ok"

    assert fx.manager.authorised(attempt) == "ok"
    assert seen == [fx.fake.issued[0].access_token, fx.fake.issued[1].access_token]
    assert (fx.manager.proves, fx.manager.reproves_on_401) == (2, 1)


def test_authorised_gives_up_after_a_second_401(fx: Fixture) -> None:
    def attempt(state: object) -> str:
        raise NepseAuthError("market_summary: HTTP 401", endpoint="market_summary", status=401)

    with pytest.raises(NepseAuthError, match="again with a freshly proved token") as info:
        fx.manager.authorised(attempt)
    assert (info.value.endpoint, info.value.status, info.value.retryable) == ("market_summary", 401, False)
    assert fx.manager.proves == 2


def prove_json(access_token: str = "x" * 200, salts: tuple[int, ...] = (1, 2, 3, 4, 5)) -> RawResponse:
    body = {"accessToken": access_token, "refreshToken": "y" * 200, "serverTime": 1}
    return json_response(body | {f"salt{i}": salt for i, salt in enumerate(salts, start=1)})


@pytest.mark.parametrize(
    "answer",
    [
        html_response(200, "<html>maintenance</html>"),
        json_response(None),
        prove_json(salts=()),
        prove_json(access_token="short"),
        prove_json(salts=(-5, -5, -5, -5, -5)),
        prove_json(salts=(1, 2, 2**40, 4, 5)),  # salt3 only signs payloads, but is still checked up front
    ],
)
def test_unusable_prove_is_a_handshake_error_and_is_not_cached(fx: Fixture, answer: RawResponse) -> None:
    fx.fake.script(PROVE_PATH, answer)
    with pytest.raises(NepseHandshakeError) as info:
        fx.manager.session()
    assert (info.value.retryable, info.value.endpoint) == (True, "prove")
    assert fx.manager.get_access_token() == fx.fake.issued[0].access_token  # the next call proves afresh


@pytest.mark.parametrize("bad", ["\u0100", "\r\n", "\0"])
def test_a_token_no_header_can_carry_is_refused_at_the_prove_and_never_cached(fx: Fixture, bad: str) -> None:
    fx.fake.script(PROVE_PATH, prove_json(access_token="x" * 60 + bad + "x" * 140))
    with pytest.raises(NepseHeaderValueError, match="Authorization header") as info:
        fx.manager.session()
    assert info.value.retryable and fx.manager.proves == 0
    assert [s.path for s in fx.fake.sent] == [PROVE_PATH]  # no request carried it, not even market-open
    assert fx.manager.get_access_token() == fx.fake.issued[0].access_token  # the next call proves afresh


def test_market_id_out_of_range_is_an_invalid_response(fx: Fixture) -> None:
    fx.fake.market_id = 100
    with pytest.raises(NepseInvalidResponseError, match=r"outside 0\.\.99"):
        fx.manager.session()
    fx.fake.market_id = 80
    assert fx.manager.get_market_id() == 80
    assert fx.manager.proves == 2  # the failed session was not kept


def test_security_brief_is_cached_for_its_ttl(fx: Fixture) -> None:
    briefs = fx.manager.get_security_brief()
    assert [(b.id, b.symbol) for b in briefs] == [(131, "NABIL"), (2790, "NICA")]
    assert fx.manager.get_security_symbol_id_map() == {"NABIL": 131, "NICA": 2790}
    fx.clock.advance(3599)
    fx.manager.get_security_brief()
    fx.manager.get_security_symbol_id_map()
    assert len(fx.fake.requests_to(SECURITY_PATH)) == 1
    assert fx.fake.requests_to(SECURITY_PATH)[0].params == (("nonDelisted", "true"),)
    fx.fake.securities.append({"id": 9999, "symbol": "NEW"})
    fx.clock.advance(1)
    assert fx.manager.get_security_symbol_id_map()["NEW"] == 9999
    assert len(fx.fake.requests_to(SECURITY_PATH)) == 2


def test_an_empty_security_list_is_not_cached(fx: Fixture) -> None:
    fx.fake.script(SECURITY_PATH, json_response([]))
    assert fx.manager.get_security_brief() == []
    assert len(fx.manager.get_security_brief()) == 2
    assert len(fx.fake.requests_to(SECURITY_PATH)) == 2


def test_returned_brief_and_map_are_copies(fx: Fixture) -> None:
    fx.manager.get_security_brief().clear()
    fx.manager.get_security_symbol_id_map().clear()
    assert len(fx.manager.get_security_brief()) == 2
    assert len(fx.manager.get_security_symbol_id_map()) == 2


def test_repr_shows_no_token_or_salt(fx: Fixture) -> None:
    state = fx.manager.session()
    text = repr(fx.manager) + repr(state) + str(state)
    for secret in fx.fake.secrets():
        assert secret not in text
    assert "proves=1" in repr(fx.manager)
