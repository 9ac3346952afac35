"""The pull tests (tests/pulls).

The engine and sinks are tested without Ray on ``pull_fakes`` from ``tests/`` (a fake page source and clock);
the pulls through a pool and ``nepse-ray pull`` run on the simulator and the session's Ray cluster
(``@pytest.mark.ray``).
"""
