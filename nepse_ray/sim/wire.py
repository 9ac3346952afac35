"""JSON on the wire: compact encoding, Spring Data pages, and a small cache of encoded bodies.

>>> page = spring_page(list(range(5)), page=1, size=2, sort=False)
>>> page["content"], page["totalPages"], page["last"]
([2, 3], 3, False)
"""

from __future__ import annotations

import collections
import json
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

Json = Any

_SORTED = {"sorted": True, "unsorted": False, "empty": False}
_UNSORTED = {"sorted": False, "unsorted": True, "empty": True}


def encode(value: Json) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_text(value: str | None) -> str:
    return json.dumps(value)


def page_meta(*, page: int, size: int, total: int, count: int, sort: bool) -> dict[str, Json]:
    """A Spring Data ``Page`` without its ``content``."""
    pages = math.ceil(total / size)
    order = _SORTED if sort else _UNSORTED
    return {
        "pageable": {
            "pageNumber": page,
            "pageSize": size,
            "offset": page * size,
            "paged": True,
            "unpaged": False,
            "sort": order,
        },
        "totalPages": pages,
        "totalElements": total,
        "last": page >= pages - 1,
        "size": size,
        "number": page,
        "sort": order,
        "numberOfElements": count,
        "first": page == 0,
        "empty": count == 0,
    }


def spring_page(rows: Sequence[Json], *, page: int, size: int, sort: bool) -> dict[str, Json]:
    chunk = list(rows[page * size : (page + 1) * size])
    return {"content": chunk, **page_meta(page=page, size=size, total=len(rows), count=len(chunk), sort=sort)}


class EncodedBodies:
    """A base for the bodies of one market: :meth:`_cached` encodes a body that never changes once."""

    def __init__(self) -> None:
        self._static: dict[object, bytes] = {}

    def _cached(self, key: object, build: Callable[[], Json]) -> bytes:
        body = self._static.get(key)
        if body is None:
            body = self._static[key] = encode(build())
        return body


class BodyCache:
    """A small thread-safe LRU of encoded bodies (markets, and so their caches, are shared across servers)."""

    __slots__ = ("_items", "_lock", "_maxsize")

    def __init__(self, maxsize: int) -> None:
        self._items: collections.OrderedDict[object, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: object, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                return body
        body = build()
        with self._lock:
            self._items[key] = body
            if len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return body
