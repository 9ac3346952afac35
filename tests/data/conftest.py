"""The Ray Data source tests (tests/data).

How a read is cut into parts, and the pull engine reading parts, run without Ray on ``pull_fakes`` from ``tests/``
(a fake page source and clock). The reads themselves run on the simulator, a pool and the session's Ray cluster
(``@pytest.mark.ray``); ``tests/ops/test_batch_job.py`` submits ``examples/ray_data_job.py`` as a Ray job.
"""
