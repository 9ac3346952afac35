"""A private local Ray instance for one scope: what the pytest plugin's cluster and the benchmark harness share;
and the token of the local instance ``NepseWorkerAPI()`` starts, kept private.

Loopback only, no dashboard, no usage stats, its own temp dir (Ray puts unix sockets there, so the path stays
short), and token auth with the token kept in that dir. Everything it sets in this process is put back on exit;
``ray.init`` itself writes ``RAY_AUTH_MODE=token`` and ``PYTHONBREAKPOINT`` into the environment of its driver, so
those are put back too.

A plain ``ray.init()`` that starts a local instance with token auth (Ray's default) writes a new token to
``~/.ray/auth_token`` with the process's umask: readable by every user of the machine under the usual 0022, and
the token lets anyone run code in the cluster. :func:`keep_default_token_private` runs first and writes that file
itself, readable by its owner only (or makes an existing one so).
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
    if _token_auth_wanted() and not _token_configured():
        token_path = Path(temp_dir) / "auth_token"
        _write_private_token(token_path)
        changes["RAY_AUTH_TOKEN_PATH"] = str(token_path)
    # Ray's processes read the variable when they start; this driver read it when ray was first imported, so its
    # copy is set for the scope too.
    enable_cluster = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with scoped_environ(changes, also_restore=["RAY_AUTH_MODE", "PYTHONBREAKPOINT"]):
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


#: Where Ray keeps the token of the clusters a user starts, unless ``RAY_AUTH_TOKEN_PATH`` says otherwise.
DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token")


def keep_default_token_private(address: str | None) -> None:
    """Before ``ray.init(address=address)``: keep the token file it uses readable by its owner only.

    A token file that exists (``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``) and that this user owns loses any
    permission for the group and others. If ``ray.init`` is about to start a local instance with token auth and
    no token is configured, the token is written here, with mode 600 in a directory with mode 700, before Ray
    would write it with the process's umask.
    """
    if not _token_auth_wanted() or "RAY_AUTH_TOKEN" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or DEFAULT_TOKEN_PATH.expanduser())
    try:
        status = path.stat()
    except FileNotFoundError:
        if not _token_configured() and address is None and "RAY_ADDRESS" not in os.environ:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private_token(path)
        return
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        path.chmod(0o600)


def _token_auth_wanted() -> bool:
    return os.environ.get("RAY_AUTH_MODE", "").lower() != "disabled"


def _token_configured() -> bool:
    return any(name in os.environ for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"))


def _write_private_token(path: Path) -> None:
    """A new random token in a new file at ``path``, readable by its owner only from the moment it exists (the
    file is created with ``O_EXCL``: never an existing file, never through a symlink)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as token_file:
        token_file.write(secrets.token_hex(32))
