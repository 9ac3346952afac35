"""nepse-ray doctor against the simulator serving each named change: the verdict and the exact check it names; an
unchanged site is ok with nothing changed; the JSON shape, the exit codes, and no secret in any output."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nepse_ray.doctor import DoctorReport, doctor
from nepse_ray.doctor.checks import endpoint_check
from nepse_ray.doctor.session import QUICK_BUDGET, Session
from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.site import SiteMemory
from nepse_ray.sim import Simulator

#: A served day that is not today (nor its day of month), so the day-term change shows whatever the date.
PAST_DAY = dt.date.today() - dt.timedelta(days=7)

NEPSE_RAY = str(Path(sys.executable).parent / "nepse-ray")
SimFactory = Callable[..., Simulator]

# change -> (verdict, the check that is not ok, a word its detail must hold)
EXPECTED = {
    "wasm-table": ("changed", "token-decoder", "site-table"),
    "wasm-scheme": ("changed", "token-decoder", "site-module"),
    "payload-variant": ("changed", "payload-ids", "floorsheet: healed to variant general"),
    "day-term": ("changed", "payload-ids", "day of as-of"),
    "field-rename": ("broken", "endpoint:live_market", "required field(s) missing: symbol"),
    "field-drop": ("changed", "endpoint:live_market", "field(s) gone: lastTradedPrice"),
    "get-to-post": ("broken", "endpoint:market_summary", "moved it from GET to a signed POST"),
}


def run(sim: Simulator) -> DoctorReport:
    return doctor(sim.base_url, rate=50.0)


@pytest.mark.parametrize("change", sorted(EXPECTED))
def test_each_change_is_named_by_its_check(nepse_sim_factory: SimFactory, change: str) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=[change], business_date=PAST_DAY)
    report = run(sim)
    verdict, name, detail = EXPECTED[change]
    assert report.verdict == verdict
    assert [check.name for check in report.changed()] == [name]
    assert detail in report.check(name).detail and report.check(name).advice
    assert sim.stats()["requests_total"] <= QUICK_BUDGET


def test_an_unchanged_site_is_ok_with_no_false_alarm(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, business_date=PAST_DAY)
    report = run(sim)
    assert report.verdict == "ok" and report.changed() == [] and report.exit_code == 0
    names = [check.name for check in report.checks]
    assert names[:5] == ["tls", "clock", "handshake", "token-decoder", "payload-ids"]
    assert {"endpoint:floorsheet", "endpoint:live_market", "endpoint:market_summary"} <= set(names)


def test_a_refused_module_is_a_broken_decoder_not_a_hang(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=["wasm-scheme"])
    report = doctor(sim.base_url, rate=50.0, all_endpoints=False)
    assert report.check("token-decoder").status == "changed"  # the reference: the same site with a usable module
    from nepse_ray.nepse import decoder

    original = decoder.MAX_MODULE_BYTES
    decoder.MAX_MODULE_BYTES = 100  # the served module (336 bytes) is now too big for the decoder
    try:
        report = doctor(sim.base_url, rate=50.0)
    finally:
        decoder.MAX_MODULE_BYTES = original
    assert report.verdict == "broken" and report.check("token-decoder").status == "broken"
    assert "refuses the new one" in report.check("token-decoder").detail


def test_the_quick_set_keeps_the_sites_limit(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=2.0, burst=1, on_excess="429", changes=["payload-variant"])
    report = doctor(sim.base_url)
    stats = sim.stats()
    assert report.verdict == "changed"
    assert stats["requests_total"] <= QUICK_BUDGET and stats["rate_limit_violations"] == 0


def test_all_endpoints_calls_every_endpoint(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None)
    report = doctor(sim.base_url, rate=100.0, all_endpoints=True)
    called = {check.name.removeprefix("endpoint:") for check in report.checks if check.name.startswith("endpoint:")}
    from nepse_ray.nepse.endpoints import CATALOGUE

    assert called == set(CATALOGUE) - {"market_open"}
    assert report.verdict == "ok", [check for check in report.checks if check.status != "ok"]
    refused = report.check("endpoint:security_floorsheet")  # the site's 403, as the simulator serves it
    assert refused.detail == "HTTP 403, as the site answers this endpoint to every client"
    assert "stock_id" in refused.advice


def test_a_403_elsewhere_is_broken(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, fault_403=1.0)  # every data call: the site refusing us
    with NepseClient(sim.base_url, rate=100.0) as client:
        assert isinstance(client.site, SiteMemory)
        session = Session(client.base_url, client, client.site)
        day = {"security_id": 131, "business_date": dt.date(2026, 11, 30)}
        checks = {
            name: endpoint_check(name, params)(session)
            for name, params in (("security_floorsheet", day), ("top_gainers", {}))
        }
    assert checks["security_floorsheet"].status == "ok" and session.outcomes["security_floorsheet"] == "refused"
    assert checks["top_gainers"].status == "broken" and "403" in checks["top_gainers"].detail
    assert session.outcomes["top_gainers"] == "error"


@pytest.mark.parametrize(("changes", "code"), [([], 0), (["get-to-post"], 2)])
def test_the_command_prints_json_and_exits_by_verdict(
    nepse_sim_factory: SimFactory, changes: list[str], code: int
) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=changes)
    done = subprocess.run(
        [NEPSE_RAY, "doctor", "--base-url", sim.base_url, "--json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"verdict", "site", "version", "checks"}
    assert document["verdict"] == ("ok", "changed", "broken")[code] and document["site"] == sim.base_url
    assert all(set(check) == {"name", "status", "detail", "advice"} for check in document["checks"])
    grants = sim.issued_grants()
    secrets = [s for grant in grants for s in (grant.access_token, grant.refresh_token, grant.salt_text)]
    assert grants and not any(secret in done.stdout + done.stderr for secret in secrets)
    salts = {str(salt) for grant in grants for salt in grant.record.salts}
    assert not any(salt in check["detail"] + check["advice"] for check in document["checks"] for salt in salts)


def test_the_command_prints_a_table(nepse_sim_factory: SimFactory) -> None:
    sim = nepse_sim_factory(trades=1_000, rate_limit=None, changes=["wasm-table"])
    table = subprocess.run(
        [NEPSE_RAY, "doctor", "--base-url", sim.base_url], capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 1, table.stderr
    assert "token-decoder" in table.stdout and "site-table" in table.stdout and "verdict: changed" in table.stdout
