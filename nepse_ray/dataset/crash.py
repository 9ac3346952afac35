"""Fault points: a test hook that makes a writer kill itself (SIGKILL) at a named step of a commit.

The dataset's promise is that a writer killed at any instant leaves the last committed snapshot readable and that
the next run converges to the uninterrupted result. Random kills rarely land between two system calls, so the
steps that matter call :func:`crash_point` with their name, and a test starts a writer with
``NEPSE_RAY_DATASET_CRASH=NAME:N`` to have it die the N-th time it reaches that point (``NAME`` alone: the first).
Unset, as it always is outside the tests, a point costs one environment lookup.

>>> crash_point("after-data-rename")  # the variable is unset: nothing happens
"""

from __future__ import annotations

import collections
import os
import signal

ENVIRONMENT = "NEPSE_RAY_DATASET_CRASH"
#: Every point, in the order a commit passes them: a data file is written and fsynced under a temporary name,
#: renamed to its final name, then the manifest the same way.
POINTS = ("before-data-rename", "after-data-rename", "before-manifest-rename", "after-manifest-rename")

_passes: collections.Counter[str] = collections.Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process if ``NEPSE_RAY_DATASET_CRASH`` names ``name`` and this is the pass it counts to."""
    wanted = os.environ.get(ENVIRONMENT)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
