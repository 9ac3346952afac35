"""The driver's call window, driven by hand: each call waits for the one ``size`` places before it, in order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from nepse_ray.pool.window import CallWindow


class Sent:
    """A stand-in for ``coordinator.call.remote``: records what each call waits for, answers ``answer n``."""

    def __init__(self) -> None:
        self.after: list[Any] = []

    def __call__(self, after: Any) -> tuple[str, str]:
        number = len(self.after)
        self.after.append(after)
        return f"answer {number}", f"marker {number}"


def test_each_call_waits_for_the_marker_of_the_call_size_places_before_it() -> None:
    window, send = CallWindow(2), Sent()

    answers = [window.submit(send) for _ in range(5)]

    assert answers == [f"answer {n}" for n in range(5)]
    assert send.after == [None, None, "marker 0", "marker 1", "marker 2"]
    assert len(window) == 2  # only the markers later calls will wait for are kept


def test_calls_from_several_threads_each_wait_for_a_distinct_earlier_call() -> None:
    window, send = CallWindow(10), Sent()

    threads = [threading.Thread(target=lambda: [window.submit(send) for _ in range(50)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    waited = [after for after in send.after if after is not None]
    assert send.after[:10] == [None] * 10
    assert waited == [f"marker {n}" for n in range(190)]


def test_a_window_holds_at_least_one_call() -> None:
    with pytest.raises(ValueError, match="at least one call"):
        CallWindow(0)


def test_a_full_window_forgets_the_markers_of_calls_that_ended() -> None:
    done: set[str] = set()
    asked: list[list[str]] = []

    def ended(markers: list[str]) -> list[str]:
        asked.append(list(markers))
        return [marker for marker in markers if marker in done]

    window, send = CallWindow(4, ended=ended), Sent()
    for _ in range(4):
        window.submit(send)
    done.update({"marker 0", "marker 1", "marker 2"})  # calls 0-2 ended, call 3 still runs

    window.submit(send)  # the window is full: it asks which ended, and waits for none of them
    window.submit(send)
    window.submit(send)

    assert asked == [["marker 0", "marker 1", "marker 2", "marker 3"]]
    assert send.after == [None] * 7
    assert len(window) == 4  # marker 3 and those of the three new calls


def test_a_full_window_of_running_calls_still_waits_for_the_oldest() -> None:
    window, send = CallWindow(2, ended=lambda markers: []), Sent()

    for _ in range(4):
        window.submit(send)

    assert send.after == [None, None, "marker 0", "marker 1"]
