"""Dataset writers in processes of their own, started in milliseconds and killed with SIGKILL.

A forkserver that imported nepse-ray, pyarrow and :mod:`dataset_site` once forks each writer, so a test can run
dozens of them (a fresh interpreter would cost about a second each). A :class:`Job` is what one writer does: syncs
(``since`` and tables each) on a :class:`~dataset_site.ClientSite` against the simulator at ``base_url``, then a
compaction if asked; ``crash`` sets the fault point it dies at (:mod:`nepse_ray.dataset.crash`). With ``stop``, the
writer goes on to the next sync only while that event is not set. A :class:`RecordJob` records the simulator's
live market instead (``polls`` polls, or until ``stop``), from :func:`stream_sources.polled` ticks.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

from dataset_site import ClientSite
from stream_sources import polled

from nepse_ray import dataset
from nepse_ray.dataset.crash import ENVIRONMENT
from nepse_ray.dataset.lock import WriterLock
from nepse_ray.dataset.record import record
from nepse_ray.dataset.sync import run_sync

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    ["pyarrow.parquet", "pyarrow.dataset", "nepse_ray.dataset", "dataset_site", "stream_sources"]
)

Sync = tuple[str, tuple[str, ...]]  # since, tables


@dataclasses.dataclass(frozen=True)
class Job:
    base_url: str
    root: Path
    syncs: tuple[Sync, ...]
    compact: bool = False
    securities: int = 12
    crash: str | None = None

    def run(self, stop: Event | None = None) -> None:
        """Do the job in this process."""
        site = ClientSite(self.base_url, securities=self.securities)
        for since, tables in self.syncs:
            if stop is not None and stop.is_set():
                return
            run_sync(site, self.root, since=since, tables=tables)
            if self.compact:
                dataset.compact(self.root)


@dataclasses.dataclass(frozen=True)
class RecordJob:
    base_url: str
    root: Path
    polls: int | None = None
    interval: float = 0.2
    per_file: int = 2
    crash: str | None = None

    def run(self, stop: Event | None = None) -> None:
        """Record the live market in this process."""
        ticks = polled(self.base_url, interval=self.interval, polls=self.polls)
        record(
            itertools.takewhile(lambda _: stop is None or not stop.is_set(), ticks), self.root, per_file=self.per_file
        )


def _work(job: Job | RecordJob, stop: Event | None) -> None:
    if job.crash is not None:
        os.environ[ENVIRONMENT] = job.crash
    job.run(stop)


def start_writer(job: Job | RecordJob, stop: Event | None = None) -> BaseProcess:
    """A process doing ``job``, started."""
    process = _CONTEXT.Process(target=_work, args=(job, stop))
    process.start()
    return process


def run_writer(job: Job | RecordJob, timeout: float = 120.0) -> int | None:
    """Do ``job`` in a process of its own to its end: the exit code (``-9`` when a fault point killed it)."""
    process = start_writer(job)
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"the writer of {job.root} still ran after {timeout} s")
    return process.exitcode


def new_event() -> Event:
    return _CONTEXT.Event()


def _hold(root: Path, held: Event, release: Event) -> None:
    with WriterLock(root):
        held.set()
        release.wait(60)


def hold_lock(root: Path) -> tuple[BaseProcess, Event]:
    """A process holding ``root``'s writer lock until the returned event is set (or it is killed)."""
    held, release = _CONTEXT.Event(), _CONTEXT.Event()
    process = _CONTEXT.Process(target=_hold, args=(root, held, release))
    process.start()
    if not held.wait(30):
        process.kill()
        raise AssertionError("the lock holder did not take the lock within 30 s")
    return process, release


def kill_after(process: BaseProcess, seconds: float) -> int | None:
    """SIGKILL ``process`` after ``seconds`` (if it still runs); its exit code."""
    process.join(seconds)
    if process.is_alive():
        process.kill()
    process.join()
    return process.exitcode
