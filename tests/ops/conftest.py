"""The operations tests (tests/ops): what an operator runs and reads.

Ray job submission, the head node's metrics, ``cluster.yaml``, the Grafana dashboard, ``nepse-ray stats``, the
notebooks and the installed pytest plugin. A separate Ray head comes from ``ray_head`` in ``tests/`` and drivers
run ``head_driver.py`` in subprocesses.
"""
