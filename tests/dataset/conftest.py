"""The dataset tests (tests/dataset).

The sync runs on the simulator and the session's Ray cluster (``@pytest.mark.ray``), and ``nepse-ray sync`` is
run as a command.
"""
