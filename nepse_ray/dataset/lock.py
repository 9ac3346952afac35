"""One writer at a time: ``DIR/.nepse-ray-lock``, an ``flock`` held for the whole run, with who holds it inside.

The kernel releases an ``flock`` when its process ends, however it ends, so the lock of a writer killed with
SIGKILL is free at once and the next writer takes it over (and says so: the file still names the dead holder). A
second writer meanwhile waits up to ``wait`` seconds, then fails with :class:`DatasetLockedError` naming the holder
(pid, host, since when). Readers take no lock. On file systems without ``flock`` (some network mounts) the error
says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from .errors import DatasetLockedError
from .layout import LOCK

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class WriterLock:
    """``with WriterLock(root, wait=10):`` holds the dataset's lock; ``taken_over`` names a dead holder's lock."""

    def __init__(
        self,
        root: Path,
        *,
        wait: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = root / LOCK
        self.wait = wait
        self.taken_over: str | None = None
        self._clock = clock
        self._sleep = sleep
        self._descriptor: int | None = None

    def __enter__(self) -> WriterLock:
        try:
            descriptor = os.open(self.path, _FLAGS, 0o644)
        except OSError as error:
            raise DatasetLockedError(f"cannot open the lock file {self.path}: {error.strerror or error}") from None
        try:
            self._acquire(descriptor)
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor = descriptor
        left = _read(descriptor)
        if left:
            self.taken_over = f"took over the lock left by {left} (no longer running)"
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": dt.datetime.now().astimezone().isoformat()}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode(), 0)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._descriptor, 0)  # an empty lock file: nobody holds it, nobody died holding it
        os.close(self._descriptor)  # releases the flock
        self._descriptor = None

    def _acquire(self, descriptor: int) -> None:
        deadline = self._clock() + self.wait
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if self._clock() >= deadline:
                    break
                self._sleep(min(0.2, max(deadline - self._clock(), 0.0)))
            except OSError as error:
                raise DatasetLockedError(
                    f"cannot lock {self.path} ({error.strerror or error}): this file system may not support locks; "
                    "keep the dataset on a local disk"
                ) from None
        raise _held(self.path, descriptor, self.wait)


def refuse_if_held(root: Path) -> None:
    """Raise :class:`DatasetLockedError` now if another writer holds ``root``'s lock (nothing is created or kept).

    For a command that would start Ray before its writer takes the lock: it fails in a moment instead of after
    the seconds a pool takes to start. A writer that takes the lock after this look is still refused by
    :class:`WriterLock` itself.
    """
    path = root / LOCK
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # no lock file (a new dataset), or one we cannot read: the writer's own lock decides
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _held(path, descriptor, 0.0) from None
    except OSError:
        return  # no flock here: WriterLock says so when it tries
    finally:
        os.close(descriptor)  # releases the flock if it was taken


def _held(path: Path, descriptor: int, wait: float) -> DatasetLockedError:
    holder = _read(descriptor) or "another process"
    waited = f" after waiting {wait:g} s" if wait else ""
    return DatasetLockedError(
        f"{path.parent} is being written by {holder}{waited}; let it finish, or wait for it with "
        "--wait SECONDS (wait= in Python)"
    )


def _read(descriptor: int) -> str:
    """Who the lock file says holds it (``pid 123 on host h since ...``), or "" for an empty file."""
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0) or b"null")
        return f"pid {int(holder['pid'])} on {str(holder['host'])[:64]} since {str(holder['since'])[:40]}"
    except (ValueError, TypeError, KeyError):
        return ""
