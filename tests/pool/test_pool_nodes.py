"""On a three-node cluster whose nodes leave from their own addresses, a pull reaches the sum of the per-address limits.

Each node of a ``ray.cluster_utils.Cluster`` (one CPU each, in a subprocess with its own ``RAY_TMPDIR``, as in
``test_pool_cluster.py``) is labelled with a loopback source address (127.0.0.1, .2, .3); the simulator limits each
token and each client address, the address limit being what one node's tokens may send together. One address alone
would cap the pull at a third of the sum; spread over the three it is never refused.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest
from cluster_script import run_cluster_script

pytestmark = pytest.mark.ray

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
TOKENS_PER_NODE = 2
TOKEN_RATE = 4.0
ADDRESS_RATE = TOKEN_RATE * TOKENS_PER_NODE
TRADES = 60_000

SCRIPT = textwrap.dedent(
    f"""
    import json
    import time

    import ray
    from ray.cluster_utils import Cluster

    from nepse_ray.pool.api import NepseWorkerAPI
    from nepse_ray.pool.worker import SOURCE_ADDRESS_LABEL
    from nepse_ray.pulls import pull_floorsheet
    from nepse_ray.sim import Simulator

    addresses = {list(ADDRESSES)!r}
    workers = {TOKENS_PER_NODE} * len(addresses)

    def node(address):
        return {{"num_cpus": 1, "labels": {{SOURCE_ADDRESS_LABEL: address}}}}

    cluster = Cluster(initialize_head=True, head_node_args={{**node(addresses[0]), "include_dashboard": False}})
    for address in addresses[1:]:
        cluster.add_node(**node(address))
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    try:
        deadline = time.monotonic() + 60
        while ray.available_resources().get("CPU", 0) < len(addresses) and time.monotonic() < deadline:
            time.sleep(0.1)
        limits = {{"rate_limit": {TOKEN_RATE}, "burst": 1, "address_rate_limit": {ADDRESS_RATE}, "on_excess": "429"}}
        with Simulator(seed=1, trades={TRADES}, address_burst={TOKENS_PER_NODE}, **limits) as sim:
            api = NepseWorkerAPI(
                base_url=sim.base_url, min_workers=workers, max_workers=workers, rate_per_token={TOKEN_RATE}
            )
            try:
                api.market_open()
                while len(api.ping_workers()) < workers:
                    time.sleep(0.2)
                ray.get([api.remote.floorsheet(page=page) for page in range(2 * workers)])  # every token proven
                placed = api.ping_workers()
                time.sleep(1.0)
                sim.reset_stats()
                started = time.monotonic()
                result = pull_floorsheet(api)
                elapsed = time.monotonic() - started
                served = sim.stats()
            finally:
                api.shutdown()
        labels = {{n["NodeID"]: n["Labels"].get(SOURCE_ADDRESS_LABEL) for n in ray.nodes() if n["Alive"]}}
        print(json.dumps({{
            "labels": labels,
            "workers": [[w["node_id"], w["source_address"]] for w in placed],
            "rows": result.rows,
            "complete": result.complete,
            "pages_per_s": result.pages / elapsed,
            "per_address": served["requests_per_address"],
            "violations": served["rate_limit_violations"],
        }}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


def test_a_pull_over_three_nodes_leaves_from_three_addresses_within_every_limit(tmp_path: Path) -> None:
    result = run_cluster_script(SCRIPT, tmp_path, timeout=300)
    assert sorted(result["labels"].values()) == list(ADDRESSES)
    nodes = Counter(node for node, _ in result["workers"])
    assert sorted(nodes.values()) == [TOKENS_PER_NODE] * len(ADDRESSES)  # the tokens spread evenly
    assert all(address == result["labels"][node] for node, address in result["workers"])  # each leaves from its node

    assert result["complete"] and result["rows"] == TRADES
    assert result["violations"] == 0  # neither a token's nor an address's limit was exceeded
    per_address = result["per_address"]
    assert set(per_address) == set(ADDRESSES)
    assert min(per_address.values()) >= 0.2 * sum(per_address.values())  # every address carried its part
    # One address alone could not pass ADDRESS_RATE without a violation; the addresses' limits added up.
    assert result["pages_per_s"] > ADDRESS_RATE
