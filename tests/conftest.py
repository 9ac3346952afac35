"""The environment nepse-ray's own test suite runs in, set before any test module imports Ray.

Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it is imported, and the test modules import it at collection,
so these are set here, once, for this suite only: clusters on 127.0.0.1, no usage stats, and no token auth, so the
subprocesses some tests start (a second cluster, the ``nepse-ray`` command) join without a token. The installed
pytest plugin (:mod:`nepse_ray.testing`) changes none of this for other projects.
"""

from __future__ import annotations

import os

for _name, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
}.items():
    os.environ.setdefault(_name, _value)
