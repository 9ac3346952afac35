"""The pull and Ray Data examples as Ray jobs on a real head node on loopback (token auth on), against a simulator.

The head (``head`` of tests/ops/conftest.py, shared with the metrics tests) has its own temp dir, a token file of
its own (``RAY_AUTH_TOKEN_PATH``) and a free port for every port flag; it is stopped by PID, never with ``ray
stop``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from ray.job_submission import JobStatus, JobSubmissionClient
from ray_head import RAY, Head

from nepse_ray.sim import SimulatorProcess

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]


def run_example(head: Head, script: str, submission_id: str, arguments: str) -> str:
    """Submit ``examples/<script> <arguments>`` as a job with ``ray job submit`` and wait for it; its output.

    Fails the test unless the job SUCCEEDED.
    """
    entrypoint = f"{sys.executable} {REPO / 'examples' / script} {arguments}"
    submitted = subprocess.run(
        [RAY, "job", "submit", "--address", head.dashboard, "--submission-id", submission_id, "--",
         *entrypoint.split()],
        env=dict(head.env), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    jobs = JobSubmissionClient(head.dashboard, headers={"Authorization": f"Bearer {head.token}"})
    status = jobs.get_job_status(submission_id)
    assert status == JobStatus.SUCCEEDED, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    return submitted.stdout


def test_the_pull_example_runs_as_a_job_and_writes_the_whole_day(head: Head, tmp_path: Path) -> None:
    out = tmp_path / "day.parquet"
    with SimulatorProcess(trades=2_000, rate_limit=None) as sim:
        output = run_example(head, "pull_floorsheet.py", "nepse-pull", f"--base-url {sim.base_url} --out {out} "
                             "--max-workers 2")  # fmt: skip
    assert "2,000 of 2,000 rows (complete)" in output
    table = pq.read_table(out)
    assert table.num_rows == 2_000 and pc.count_distinct(table.column("contract_id")).as_py() == 2_000


def test_the_ray_data_example_runs_as_a_job_and_writes_every_trade_once(head: Head, tmp_path: Path) -> None:
    out = tmp_path / "day"
    with SimulatorProcess(trades=2_000, rate_limit=None) as sim:
        output = run_example(head, "ray_data_job.py", "nepse-data", f"--base-url {sim.base_url} --out {out} "
                             "--max-workers 2")  # fmt: skip
    assert "2,000 trades read of 2,000 announced" in output, output[-3000:]
    table = pq.read_table(out)  # a directory of Parquet files, one per block
    assert table.num_rows == 2_000 and pc.count_distinct(table.column("contract_id")).as_py() == 2_000
