"""``nepse-ray sim`` as a subprocess: the first line names the address, it serves, and SIGTERM ends it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from sim_session import BUSINESS_DATE, proved

from nepse_ray.cli import build_parser, main
from nepse_ray.sim import Simulator

ARGS = ["--seed", "11", "--trades", "5000", "--business-date", BUSINESS_DATE.isoformat(), "--day-source", "asof"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "nepse_ray.cli", "sim", "--port", "0", "--no-rate-limit", *ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        prefix = "listening on http://127.0.0.1:"
        assert line.startswith(prefix) and line[len(prefix) :].isdigit(), line
        yield process, line.split()[-1]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_serves_stats_and_exits_zero_on_sigterm(served: tuple[subprocess.Popen[str], str]) -> None:
    process, base_url = served
    stats = requests.get(base_url + "/_sim/stats", timeout=10).json()
    assert stats["floorsheet_rows"] == 5000 and stats["business_date"] == BUSINESS_DATE.isoformat()
    # Same seed in another process gives the same page bytes: the market does not depend on the process.
    with Simulator(seed=11, trades=5000, business_date=BUSINESS_DATE, day_source="asof", rate_limit=None) as sim:
        local = proved(sim).call("floorsheet", page=2).content
    remote = proved(base_url).call("floorsheet", page=2).content
    assert remote == local
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_invalid_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--fault-5xx", "3"]) == 2
    assert "fault_5xx" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


def test_options_map_onto_config_fields() -> None:
    args = build_parser().parse_args(["sim", "--no-rate-limit", "--on-excess", "drop", "--fault-non-json", "0.5"])
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "run")}
    assert fields == {"rate_limit": None, "on_excess": "drop", "fault_non_json": 0.5}
