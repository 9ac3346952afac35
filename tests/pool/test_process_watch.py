"""``watch_process`` against real processes: the end of a process is heard as it ends (also while it is an unreaped
zombie), a process already gone is heard at once, a cancelled watch stays silent and lets its pidfd go, and where
there is no pidfd the watch polls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from nepse_ray.pool.process_watch import process_ended, watch_process


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A child process that runs until killed; the test does not reap it before it is heard of."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield child
    child.kill()
    child.wait()


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def heard(start: Callable[[asyncio.Event], Callable[[], None]], then: Callable[[], None]) -> bool:
    """Whether the watch ``start`` begins hears of the process within 10 s of ``then()``."""
    gone = asyncio.Event()
    start(gone)
    then()
    try:
        await asyncio.wait_for(gone.wait(), 10.0)
    except asyncio.TimeoutError:
        return False
    return True


def test_a_killed_process_is_heard_while_it_is_still_a_zombie(sleeper: subprocess.Popen[bytes]) -> None:
    async def scenario() -> tuple[bool, bool]:
        gone = asyncio.Event()
        watch_process(sleeper.pid, gone.set)
        await asyncio.sleep(0.2)  # a watch that fires for a live process would have fired by now
        quiet_while_alive = not gone.is_set()
        os.kill(sleeper.pid, signal.SIGKILL)
        await asyncio.wait_for(gone.wait(), 10.0)
        return quiet_while_alive, gone.is_set()

    assert asyncio.run(scenario()) == (True, True)
    assert process_ended(sleeper.pid) and sleeper.poll() is not None  # a zombie until now: ended all the same


def test_a_process_already_gone_is_heard_at_once() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()

    async def scenario() -> bool:
        return await heard(lambda gone: watch_process(child.pid, gone.set), lambda: None)

    assert asyncio.run(scenario())


def test_a_cancelled_watch_stays_silent_and_closes_its_pidfd(sleeper: subprocess.Popen[bytes]) -> None:
    calls: list[str] = []

    async def scenario() -> set[str]:
        before = open_fds()
        cancel = watch_process(sleeper.pid, lambda: calls.append("gone"))
        assert len(open_fds() - before) == 1  # the pidfd
        cancel()
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait()
        await asyncio.sleep(0.2)  # a watch still reading the pidfd would have been called by now
        return open_fds() - before

    assert asyncio.run(scenario()) == set() and calls == []


def test_without_pidfds_the_watch_polls(sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr("os.pidfd_open", no_pidfd)

    async def scenario() -> bool:
        return await heard(
            lambda gone: watch_process(sleeper.pid, gone.set), lambda: os.kill(sleeper.pid, signal.SIGKILL)
        )

    assert asyncio.run(scenario())
