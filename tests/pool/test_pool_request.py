"""PoolRequest: checked on the driver before anything is submitted, and routed to the worker method that serves it."""

from __future__ import annotations

import pickle

import pytest

from nepse_ray.nepse.endpoints import SESSION_METHODS
from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.pool.request import FORMS, LANES, PoolRequest


def test_catalogue_requests_go_to_call_with_their_form() -> None:
    request = PoolRequest.checked("floorsheet", {"page": 2}, lane="interactive", form="raw", caller="c1")
    assert request.worker_call() == ("call", ("floorsheet", {"page": 2}, "raw", True))  # urgent: interactive
    assert (request.lane, request.form, request.caller, request.is_session) == ("interactive", "raw", "c1", False)


def test_session_methods_go_to_the_workers_session_method() -> None:
    for name in SESSION_METHODS:
        request = PoolRequest.checked(name, {})
        assert request.is_session
        assert request.worker_call() == ("session", (name,))


def test_defaults_are_the_bulk_lane_and_the_model_form() -> None:
    request = PoolRequest.checked("market_open", {})
    assert (request.lane, request.form) == ("bulk", "model")
    assert LANES == ("interactive", "bulk") and FORMS == ("model", "arrow", "raw")


def test_params_are_copied_so_a_later_change_by_the_caller_does_not_leak_in() -> None:
    params = {"page": 1}
    request = PoolRequest.checked("floorsheet", params)
    params["page"] = 5
    assert request.params == {"page": 1}


def test_requests_pickle() -> None:
    request = PoolRequest.checked("today_price", {"page": 1}, form="arrow", caller="c9")
    assert pickle.loads(pickle.dumps(request)) == request


@pytest.mark.parametrize(
    ("name", "params", "options", "message"),
    [
        ("floorsheet", {"page": -1}, {}, "must not be negative"),
        ("market_depth", {}, {}, "missing required argument security_id"),
        ("get_access_token", {"x": 1}, {}, "takes no arguments"),
        ("drop_tables", {}, {}, "unknown request 'drop_tables'"),
        ("market_open", {}, {"form": "arrow"}, "needs a paged endpoint"),
        ("market_open", {}, {"form": "csv"}, "form must be one of model, arrow, raw"),
        ("market_open", {}, {"lane": "urgent"}, "priority must be one of interactive, bulk"),
        ("get_salts", {}, {"form": "raw"}, "session method"),
    ],
)
def test_bad_requests_are_refused(name: str, params: dict[str, object], options: dict[str, str], message: str) -> None:
    with pytest.raises(NepseInputError, match=message):
        PoolRequest.checked(name, params, **options)


def test_keys_identify_the_call_as_sent() -> None:
    import datetime as dt

    default = PoolRequest.checked("floorsheet", {"business_date": dt.date(2026, 11, 30)})
    explicit = PoolRequest.checked("floorsheet", {"page": 0, "size": 500, "business_date": "2026-11-30"}, caller="b")
    assert default.key == explicit.key
    key = default.key
    assert key is not None and ("businessDate", "2026-11-30") in key.query
    assert PoolRequest.checked("floorsheet", {"page": 1}).key != default.key
    assert PoolRequest.checked("floorsheet", {}, form="raw").key != PoolRequest.checked("floorsheet", {}).key
    assert PoolRequest.checked("get_access_token", {}).key is None
