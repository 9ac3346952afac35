"""Dataset writers in processes of their own, started in milliseconds and killed with SIGKILL.

A forkserver that imported nepse-ray, pyarrow and :mod:`dataset_site` once forks each writer, so a test can run
dozens of them (a fresh interpreter would cost about a second each). A writer runs ``run_sync`` on a
:class:`~dataset_site.ClientSite` against the simulator at ``base_url``; ``crash`` sets the fault point it dies at
(:mod:`nepse_ray.dataset.crash`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

from dataset_site import ClientSite

from nepse_ray.dataset.crash import ENVIRONMENT
from nepse_ray.dataset.sync import run_sync

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["pyarrow.parquet", "pyarrow.dataset", "nepse_ray.dataset.sync", "dataset_site"])


def _write(base_url: str, root: str, since: str, tables: Sequence[str], securities: int, crash: str | None) -> None:
    if crash is not None:
        os.environ[ENVIRONMENT] = crash
    run_sync(ClientSite(base_url, securities=securities), root, since=since, tables=tables)


def start_writer(
    base_url: str,
    root: Path,
    *,
    since: str,
    tables: Sequence[str],
    securities: int = 12,
    crash: str | None = None,
) -> BaseProcess:
    """A writer syncing ``root``, started and running."""
    process = _CONTEXT.Process(target=_write, args=(base_url, str(root), since, list(tables), securities, crash))
    process.start()
    return process


def run_writer(
    base_url: str,
    root: Path,
    *,
    since: str,
    tables: Sequence[str],
    securities: int = 12,
    crash: str | None = None,
    timeout: float = 120.0,
) -> int | None:
    """Run a writer to its end: its exit code (``-9`` when a fault point killed it)."""
    process = start_writer(base_url, root, since=since, tables=tables, securities=securities, crash=crash)
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"the writer syncing {root} still ran after {timeout} s")
    return process.exitcode
