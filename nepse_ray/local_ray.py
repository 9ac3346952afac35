"""A private local Ray instance for one scope: what the pytest plugin's cluster and the benchmark harness share.

Loopback only, no dashboard, no usage stats, its own temp dir (Ray puts unix sockets there, so the path stays
short), and token auth with the token kept in that dir. Everything it sets in this process is put back on exit;
Ray itself writes ``RAY_AUTH_MODE=token`` into the environment of a new local instance, so that variable is put back
too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def scoped_environ(changes: Mapping[str, str], *, also_restore: Iterable[str] = ()) -> Iterator[None]:
    """Set ``changes`` in ``os.environ``; on exit put back these and ``also_restore`` (set meanwhile by others)."""
    names = {*changes, *also_restore}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def private_cluster_settings(temp_dir: str) -> Iterator[None]:
    """What a private cluster needs while it runs: no usage stats, loopback only, token auth kept in ``temp_dir``."""
    from ray._private import ray_constants

    changes = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    token_configured = any(name in os.environ for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"))
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "disabled" and not token_configured:
        token_path = Path(temp_dir) / "auth_token"
        token_path.touch(mode=0o600)
        token_path.write_text(secrets.token_hex(32))
        changes["RAY_AUTH_TOKEN_PATH"] = str(token_path)
    # Ray's processes read the variable when they start; this driver read it when ray was first imported, so its
    # copy is set for the scope too.
    enable_cluster = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with scoped_environ(changes, also_restore=["RAY_AUTH_MODE"]):
            yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = enable_cluster


@contextlib.contextmanager
def private_ray(namespace: str, *, prefix: str = "nr-") -> Iterator[dict[str, Any]]:
    """``ray.init`` of a new local instance (2 CPUs, loopback, no dashboard) in a temp dir of its own; its address
    info. Shut down and removed on exit."""
    import ray

    temp_dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    try:
        with private_cluster_settings(temp_dir):
            context: Any = ray.init(
                address="local",
                num_cpus=2,
                include_dashboard=False,
                namespace=namespace,
                _temp_dir=temp_dir,
                log_to_driver=False,
            )
            try:
                yield dict(context.address_info)
            finally:
                ray.shutdown()
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
