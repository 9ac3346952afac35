"""The operations tests (tests/ops): what an operator runs and reads.

Ray job submission, the head node's metrics, ``cluster.yaml``, the Grafana dashboard, ``nepse-ray stats``, the
notebooks and the installed pytest plugin. A separate Ray head comes from ``ray_head`` in ``tests/`` and drivers
run ``head_driver.py`` in subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_head import Head, ray_head


@pytest.fixture(scope="package")
def head() -> Iterator[Head]:
    """One head node for the jobs, metrics and Prometheus tests (a head costs 15-40 s to start and stop here, and
    1.6 GB): token auth, its own temp dir and ports, a 1 s metrics report interval, stopped by PID. Each test's pool
    has a name of its own and ends with its driver or job."""
    with ray_head({"RAY_metrics_report_interval_ms": "1000"}) as running:
        yield running
