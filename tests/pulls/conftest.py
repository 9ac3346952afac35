"""The pull and dataset tests (tests/pulls).

The engine and sinks are tested without Ray on ``pull_fakes`` from ``tests/`` (a fake page source and clock);
the pulls through a pool, the dataset sync and ``nepse-ray pull``/``sync`` run on the simulator and the session's
Ray cluster (``@pytest.mark.ray``).
"""
