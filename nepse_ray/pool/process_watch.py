"""Hear that a process on this machine ended, as it ends, without looking again and again.

On Linux (5.3 and later) a *pidfd* for the process becomes readable when it exits (also while it is a zombie,
before its parent reaps it); the running event loop reads it, so a watched process costs nothing until it ends.
Where there is no pidfd (other systems, older kernels) the watch looks every :data:`POLL_INTERVAL` seconds.

A pidfd stands for the process that had the pid when the watch began, so a pid used again later is never
mistaken for it. The coordinator watches its workers on its own node this way (``supervisor.py``); a poll of every
worker's ``/proc`` entry 20 times a second was most of an idle coordinator's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import psutil

#: Seconds between two looks at a process where the system has no pidfd.
POLL_INTERVAL = 0.05


def watch_process(pid: int, on_gone: Callable[[], None]) -> Callable[[], None]:
    """Call ``on_gone()`` on the running event loop once process ``pid`` has ended (soon, if it already has);
    returns a function that ends the watch (no call after it). Must be called from the event loop's thread."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return loop.call_soon(on_gone).cancel
    except (AttributeError, OSError):  # no pidfd here
        return _polled(loop, pid, on_gone)
    return _PidfdWatch(loop, fd, on_gone).cancel


class _PidfdWatch:
    """One pidfd the loop reads; closed when the process ends or the watch is cancelled."""

    __slots__ = ("_fd", "_loop", "_on_gone")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, on_gone: Callable[[], None]) -> None:
        self._loop, self._fd, self._on_gone = loop, fd, on_gone
        loop.add_reader(fd, self._ended)

    def _ended(self) -> None:
        self.cancel()
        self._on_gone()

    def cancel(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


def _polled(loop: asyncio.AbstractEventLoop, pid: int, on_gone: Callable[[], None]) -> Callable[[], None]:
    async def poll() -> None:
        while not process_ended(pid):
            await asyncio.sleep(POLL_INTERVAL)
        on_gone()

    task = loop.create_task(poll())

    def cancel() -> None:
        task.cancel()

    return cancel


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie its parent has not reaped)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    return True
