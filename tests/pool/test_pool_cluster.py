"""On a two-node cluster the supervisor places the workers (and so their tokens' traffic) evenly on both nodes.

The cluster (``ray.cluster_utils.Cluster``: a head and one worker node, one CPU each) runs in a subprocess with its
own ``RAY_TMPDIR``, so it never meets the session cluster of the other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

SCRIPT = textwrap.dedent(
    """
    import json
    import time

    import ray
    from ray.cluster_utils import Cluster

    from nepse_ray.pool.api import NepseWorkerAPI
    from nepse_ray.sim import Simulator

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    try:
        # The scheduler spreads only over nodes whose resources it has heard of.
        deadline = time.monotonic() + 60
        while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        with Simulator(seed=1, trades=1_000, rate_limit=None) as sim:
            api = NepseWorkerAPI(base_url=sim.base_url, min_workers=4, max_workers=4)
            api.market_open()
            workers = api.ping_workers()
            api.shutdown()
        nodes = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        print(json.dumps({"nodes": nodes, "workers": [w["node_id"] for w in workers]}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


def test_workers_spread_evenly_over_both_nodes(tmp_path: Path) -> None:
    temp_dir = tempfile.mkdtemp(prefix="nr2-", dir="/tmp")  # Ray's socket paths must stay short
    script = tmp_path / "two_nodes.py"
    script.write_text(SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "RAY_TMPDIR": temp_dir},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["nodes"]) == 2
    assert len(result["workers"]) == 4
    assert set(result["workers"]) == set(result["nodes"])
    assert sorted(Counter(result["workers"]).values()) == [2, 2]  # placement is even, not best effort
