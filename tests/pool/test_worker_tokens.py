"""A worker's tokens taken in turn (``worker.TokenTurns``), with real clients on a fake NEPSE and a fake clock: a
token paused by a 429 is skipped until its pause ends. No Ray."""

from __future__ import annotations

import pytest
from client_rig import BODIES, SIGNED, SUMMARY
from nepse_fakes import BASE_URL, FakeClock, FakeNepse, json_response

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseRateLimitedError
from nepse_ray.pool.worker import TokenTurns


def client(clock: FakeClock, fake: FakeNepse) -> NepseClient:
    return NepseClient(
        BASE_URL, rate=2.0, clock=clock, sleep=clock.sleep, transport=fake, max_rate_limit_retries=0, day=lambda: 12
    )


def test_a_token_paused_by_a_429_is_skipped_until_its_pause_ends() -> None:
    clock = FakeClock()
    site = FakeNepse(bodies=BODIES, signed=SIGNED)
    clients = [client(clock, site), client(clock, site)]
    turns = TokenTurns(clients, horizon=1.0, clock=clock)
    assert [turns.next()[0] for _ in range(4)] == [0, 1, 0, 1]  # in turn while both pace normally

    site.script(SUMMARY, json_response({}, 429, {"Retry-After": "30"}))
    with pytest.raises(NepseRateLimitedError):
        clients[0].market_summary()  # token 0 waits out the site's 30 s

    assert [turns.next()[0] for _ in range(4)] == [1, 1, 1, 1]  # its turns go to token 1 meanwhile
    clock.advance(30.0)
    assert [turns.next()[0] for _ in range(4)] == [0, 1, 0, 1]
