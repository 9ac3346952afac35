"""The pool on a real head node on loopback, as operators run it: its metrics on the node's Prometheus endpoint, and
nothing secret in anything it writes.

The head of tests/ops/conftest.py (``ray_head.py``: token auth, its own temp dir and ports, a 1 s metrics report
interval in its environment, stopped by PID). The test process has its own Ray connection already, so each scenario
runs in a driver process of its own (``head_driver.py``) against an in-process simulator, whose issued tokens and
salts the secrets test reads back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from head_driver import completed, wait_for
from metric_tables import exported_names
from ray_head import Head

from nepse_ray.nepse.tokens import strip_junk
from nepse_ray.pool.metrics import COORDINATOR
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray

DRIVER = Path(__file__).resolve().parents[1] / "head_driver.py"


def drive(head: Head, scenario: str, sim: Simulator, pool: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Run ``scenario`` of ``head_driver.py`` on the head; its JSON result and everything it printed."""
    out = tmp_path / f"{scenario}.json"
    env = {**head.env, "RAY_ADDRESS": head.gcs_address, "PYTHONPATH": str(DRIVER.parent)}
    done = subprocess.run(
        [sys.executable, str(DRIVER), scenario, sim.base_url, pool, head.metrics_url, str(out)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-5000:]
    return json.loads(out.read_text()), printed


def test_every_documented_metric_reaches_the_nodes_endpoint_and_the_counts_match(
    head: Head, nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    result, printed = drive(head, "metrics", sim, "metrics-pool", tmp_path)

    before = result["before_shutdown"]
    assert sorted(exported_names() - set(before)) == [], printed[-3000:]
    answered = result["answered"]
    assert result["refused"] >= 1 and answered >= 20
    assert completed(before) == answered == result["stats"]["total_tasks_completed"]
    assert before["ray_nepse_pool_latency_seconds_count"] == answered
    assert result["proved"] >= 2  # the first worker and its replacement at least
    assert before["ray_nepse_pool_token_proves_total"] >= result["proved"]  # every worker that served proved
    assert before["ray_nepse_pool_refused_total"] == result["stats"]["refused"] == result["refused"]

    # After the shutdown: the counters stay (the coordinator's last values were exported before it ended), the
    # gauges go with the process.
    after = wait_for(head.metrics_url, "metrics-pool", lambda s: "ray_nepse_pool_workers" not in s, timeout=20)
    assert completed(after) == answered
    counters = {name for spec in COORDINATOR.values() if spec.kind == "counter" for name in spec.exported}
    assert {name: after[name] for name in counters} == {name: before[name] for name in counters}


def test_no_token_refresh_token_or_salt_appears_in_anything_the_project_writes(
    head: Head, nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    """Tokens (130-odd characters) are looked for as substrings everywhere. Salts are 5-digit numbers, and Ray's
    logs and the node's metrics are full of unrelated ones (ports, pids, sizes), so there a leak is two salts of one
    grant on one line, as any dump of a token state or a prove would show them; in the project's own texts (reprs,
    errors, stats, CLI output, its log lines) each salt is looked for alone, as a whole number, apart from the figures
    the stats show and the simulator's port."""
    sim = nepse_sim_factory(
        trades=3_000, rate_limit=None, token_ttl=5.0, fault_5xx=0.05, fault_drop=0.03, fault_empty=0.03,
        fault_early_expiry=0.05,
    )  # fmt: skip
    result, printed = drive(head, "secrets", sim, "secrets-pool", tmp_path)
    assert result["complete"] and result["rows"] == 3_000

    grants = sim.issued_grants()
    assert len(grants) == sim.stats()["tokens_issued"] >= 4  # every grant is known (none fell out of the list)
    tokens = [text for grant in grants for text in token_forms(grant)]
    salts = [tuple(str(salt) for salt in grant.record.salts) for grant in grants]
    ours = {**result["texts"], "driver output": printed}
    metrics = ours.pop("metrics")
    everything = {**ours, "metrics": metrics, **session_logs(head)}
    assert any("nepse_ray" in text for where, text in everything.items() if where.endswith(".err"))  # actors' logs

    for where, text in everything.items():
        leaked = [token[:12] for token in tokens if token in text]
        assert not leaked, f"token(s) starting {leaked} in {where}"
        for line in text.splitlines():
            numbers = set(re.findall(r"\b\d{5}\b", line))
            assert not [grant for grant in salts if len(numbers.intersection(grant)) >= 2], f"salts in {where}: {line}"
    innocent = {str(figure) for figure in result["figures"]} | {sim.base_url.rsplit(":", 1)[1]}
    single = {salt for grant in salts for salt in grant} - innocent
    for where, text in ours.items():
        found = set(re.findall(r"\b\d{5}\b", project_lines(text))) & single
        assert not found, f"salt(s) {sorted(found)} in {where}"


def project_lines(text: str) -> str:
    """The lines of ``text`` the project wrote: all but the log lines of other loggers (Ray's, urllib3's...)."""
    return "\n".join(line for line in text.splitlines() if " name=" not in line or " name=nepse_ray" in line)


def token_forms(grant: Any) -> list[str]:
    """The tokens of one grant as the site sent them (obfuscated) and as a client uses them (stripped)."""
    salts = grant.record.salts
    return [
        grant.access_token,
        grant.refresh_token,
        strip_junk(grant.access_token, salts[1]),
        strip_junk(grant.refresh_token, salts[0]),
        grant.salt_text,
    ]


def session_logs(head: Head) -> dict[str, str]:
    """Every file of the head's Ray session logs (workers, actors, raylet, GCS, dashboard), by path."""
    logs = {}
    for path in Path(head.temp_dir).glob("session_*/logs/**/*"):
        if path.is_file() and os.path.getsize(path) < 50 * 2**20:
            logs[str(path)] = path.read_text(errors="replace")
    return logs
