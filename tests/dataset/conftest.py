"""The dataset tests (tests/dataset).

Most run without Ray: a sync's site is one ``NepseClient`` on the real simulator (``dataset_site``), writers run in
processes forked from a preloaded forkserver so they can be killed at every step (``dataset_writers``), and
``dataset_checks`` reads a committed snapshot and fails on any inconsistency. ``test_dataset.py`` syncs through a
pool on the session's Ray cluster (``@pytest.mark.ray``) and runs ``nepse-ray sync`` as a command.
"""
