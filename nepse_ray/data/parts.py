"""How a read is cut into Ray Data read tasks: pure, no Ray, no I/O.

A listing whose page 0 the driver read (a day's floorsheet, a day's prices) is cut on page boundaries into parts
(:class:`~nepse_ray.pulls.engine.Part`), each with an exact row count. Many listings (price histories) are cut
into groups of whole listings, whose rows are known only once read. Either way a task gets at least ``per_task``
items (pages or listings), so its window of requests has something to fill and one task alone can keep the pool
busy while Ray Data runs one or two at a time.

>>> task_spans(items=10, wanted=4, per_task=3)
[range(0, 4), range(4, 7), range(7, 10)]
>>> [(part.first, part.stop) for part in split_listing(expected=1_100, size=500, wanted=8, per_task=1)]
[(0, 500), (500, 1000), (1000, 1100)]
>>> [(part.first, part.stop) for part in split_listing(expected=1_100, size=500, wanted=8, per_task=1, limit=30)]
[(0, 30), (500, 530), (1000, 1030)]
"""

from __future__ import annotations

from nepse_ray.pulls.engine import Part


def task_spans(items: int, wanted: int, per_task: int) -> list[range]:
    """``items`` in contiguous spans, one per read task: ``wanted`` of them (Ray Data's parallelism), fewer where a
    span would hold under ``per_task`` items, and at least one (empty when there is nothing to read)."""
    tasks = max(1, min(wanted, items // max(per_task, 1)))
    size, longer = divmod(items, tasks)
    spans, start = [], 0
    for number in range(tasks):
        stop = start + size + (1 if number < longer else 0)
        spans.append(range(start, stop))
        start = stop
    return spans


def split_listing(expected: int, size: int, wanted: int, per_task: int, *, limit: int | None = None) -> list[Part]:
    """A listing of ``expected`` rows in pages of ``size`` as parts of whole pages (see :func:`task_spans`); with
    ``limit`` (Ray Data's row limit per task) each part keeps only its first ``limit`` rows."""
    pages = -(-expected // size)
    parts = []
    for span in task_spans(pages, wanted, per_task):
        first = span.start * size
        stop = min(span.stop * size, expected)
        parts.append(Part(expected, size, first, stop if limit is None else min(stop, first + limit)))
    return parts
