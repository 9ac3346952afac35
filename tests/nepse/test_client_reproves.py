"""NepseClient after a 401 or 403: one fresh token and one retry, then a named error."""

from __future__ import annotations

import pytest
from client_rig import FLOORSHEET, SUMMARY, Rig, assert_leaks_nothing
from nepse_fakes import SALT_SETS, html_response

from nepse_ray.nepse.errors import NepseAuthError, NepseForbiddenError
from nepse_ray.nepse.payload import PayloadVariant, payload_id

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
