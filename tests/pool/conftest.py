"""The pool tests (tests/pool): pure parts without Ray, and ``@pytest.mark.ray`` tests on the session's cluster.

The pure parts (dispatch, fleet, policy, recorder, stats) run on ``pool_fakes`` from ``tests/``: a fake launcher,
spy metrics, a recording logger and a driver for the coordinator's event loop. The Ray tests use the installed
plugin's fixtures (:mod:`nepse_ray.testing`): ``nepse_ray_cluster``, ``nepse_sim_factory``, ``nepse_pool_factory``.
"""
