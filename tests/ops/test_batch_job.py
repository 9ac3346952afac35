"""The pull example as a Ray job on a real head node on loopback (token auth on), against a simulator.

The head (``ray_head.py``) gets its own temp dir, a token file of its own (``RAY_AUTH_TOKEN_PATH``) and a free port
for every port flag; it is stopped by PID, never with ``ray stop``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from ray.job_submission import JobStatus, JobSubmissionClient
from ray_head import RAY, Head, ray_head

from nepse_ray.sim import SimulatorProcess

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def head() -> Iterator[Head]:
    with ray_head() as running:
        yield running


def test_the_pull_example_runs_as_a_job_and_writes_the_whole_day(head: Head, tmp_path: Path) -> None:
    address, env = head.dashboard, dict(head.env)
    out = tmp_path / "day.parquet"
    with SimulatorProcess(trades=2_000, rate_limit=None) as sim:
        entrypoint = (f"{sys.executable} {REPO / 'examples' / 'pull_floorsheet.py'} --base-url {sim.base_url} "
                      f"--out {out} --max-workers 2")  # fmt: skip
        submitted = subprocess.run(
            [RAY, "job", "submit", "--address", address, "--submission-id", "nepse-pull", "--", *entrypoint.split()],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        jobs = JobSubmissionClient(address, headers={"Authorization": f"Bearer {head.token}"})
        status = jobs.get_job_status("nepse-pull")
    assert status == JobStatus.SUCCEEDED, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    assert "2,000 of 2,000 rows (complete)" in submitted.stdout
    table = pq.read_table(out)
    assert table.num_rows == 2_000 and pc.count_distinct(table.column("contract_id")).as_py() == 2_000
