"""nepse-sdk 0.1.0 (module constants ``nepse.core.client.BASE_URL`` and ``nepse.core.wasm.WASM_URL``): httpx,
downloads the served module, caches its token under ``~/.lagani``, refresh-token then prove on 401.

It needs Python 3.13: on an older interpreter the test makes a Python 3.13 environment of its own (once, kept beside
this one's) from a ``python3.13`` it can find (``NEPSE_COMPAT_PYTHON313``, ``PATH``, pyenv's versions), and skips
with the reason when there is none.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from compat_walk import Context
from sim_session import TruthSession

from nepse_ray.sim import Simulator

SDK = "nepse-sdk==0.1.0"
DRIVER = Path(__file__).with_name("nepse_sdk_driver.py")


def _is_313(python: str) -> bool:
    probe = [python, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def python313() -> str | None:
    """A Python 3.13 or newer interpreter on this machine, or None."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get("NEPSE_COMPAT_PYTHON313"),
        shutil.which("python3.13"),
        *sorted(glob.glob(f"{pyenv}/versions/3.1[3-9]*/bin/python3")),
    ]
    return next((c for c in candidates if c and _is_313(c)), None)


def sdk_environment() -> str:
    """The interpreter that runs nepse-sdk: this one on 3.13+, else a 3.13 environment made (once) for it."""
    if sys.version_info >= (3, 13):
        pytest.importorskip("nepse", reason=f"{SDK} is in the compat extra: pip install -e '.[compat]'")
        return sys.executable
    base = python313()
    if base is None:
        pytest.skip(
            f"{SDK} needs Python 3.13 and none was found (set NEPSE_COMPAT_PYTHON313 or put python3.13 on PATH)"
        )
    home = Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else Path(tempfile.gettempdir())
    venv = home / "compat-nepse-sdk-0.1.0"
    python = venv / "bin" / "python"
    if not (venv / "installed").exists():
        shutil.rmtree(venv, ignore_errors=True)
        made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
        install = [str(python), "-m", "pip", "install", "--quiet", SDK]
        if made.returncode or subprocess.run(install, capture_output=True, text=True, timeout=600).returncode:
            pytest.skip(f"could not install {SDK} into a Python 3.13 environment at {venv} (no package index?)")
        (venv / "installed").touch()
    return str(python)


@pytest.fixture(scope="module")
def answers(site: Simulator, ctx: Context, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = sdk_environment()
    home = tmp_path_factory.mktemp("sdk-home")
    run = [python, str(DRIVER), site.base_url, ctx.symbol, ctx.dividend_symbol]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def answer(answers: dict[str, Any], name: str) -> Any:
    outcome = answers[name]
    assert "ok" in outcome, f"{name}: {outcome['error']}"
    return outcome["ok"]


def test_market_summary(answers: dict[str, Any], truth: TruthSession) -> None:
    expected = [{"detail": i["detail"], "value": i["value"]} for i in truth.call("market_summary").json()]
    assert answer(answers, "market_summary") == expected


@pytest.mark.parametrize("name", ["top_gainers", "top_losers"])
def test_movers(name: str, answers: dict[str, Any], truth: TruthSession) -> None:
    rows = truth.call(name).json()
    got = answer(answers, name)
    assert [(r["symbol"], r["security_id"], r["ltp"], r["cp"]) for r in got] == [
        (r["symbol"], r["securityId"], r["ltp"], r["cp"]) for r in rows
    ]


def test_securities(answers: dict[str, Any], truth: TruthSession) -> None:
    listed = truth.call("security_list").json()
    assert [(s["id"], s["symbol"]) for s in answer(answers, "securities")] == [(s["id"], s["symbol"]) for s in listed]


def test_security_detail(answers: dict[str, Any], truth: TruthSession, ctx: Context) -> None:
    body = truth.get(f"/api/nots/security/{ctx.security_id}").json()
    got = answer(answers, "security_detail")
    trade, info = body["securityMcsData"], body["securityData"]
    assert (got["trade"]["security_id"], got["trade"]["total_trades"], got["trade"]["last_traded_price"]) == (
        trade["securityId"],
        trade["totalTrades"],
        trade["lastTradedPrice"],
    )
    assert (got["info"]["id"], got["info"]["symbol"], got["info"]["sector"]) == (
        ctx.security_id,
        ctx.symbol,
        info["sector"],
    )


def test_dividends(answers: dict[str, Any], truth: TruthSession, ctx: Context) -> None:
    records = truth.get(f"/api/nots/application/dividend/{ctx.dividend_id}").json()
    notices = [r["companyNews"]["dividendsNotice"] for r in records]
    got = answer(answers, "dividends")
    assert [(d["fiscal_year"], d["cash_dividend"], d["bonus_share"]) for d in got] == [
        (n["financialYear"]["fyName"], n["cashDividend"], n["bonusShare"]) for n in notices
    ]
