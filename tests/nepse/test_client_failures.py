"""NepseClient: every other failure maps to a named error that leaks no secret."""

from __future__ import annotations

import copy

import pytest
from client_rig import FLOORSHEET, SUMMARY, Rig, assert_leaks_nothing
from nepse_fakes import html_response, json_response

from nepse_ray.nepse.errors import (
    NepseClientRequestError,
    NepseConnectionError,
    NepseError,
    NepseInvalidResponseError,
    NepseServerError,
    NepseTimeoutError,
)
from nepse_ray.nepse.transport import RawResponse

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
