"""Pages through the Ray pool: the engine's :class:`~nepse_ray.pulls.engine.PageSource` on a ``NepseWorkerAPI``.

Pages take the pool's direct path (:mod:`nepse_ray.pool.direct`): the coordinator grants worker slots in the bulk
lane and each page comes from its worker straight to this process, in the form :data:`PAGE_FORM`.
:func:`as_page` is the one place that turns an answer into a :class:`~nepse_ray.nepse.tables.PageBatch`, whichever
form it came in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from nepse_ray.nepse.tables import PageBatch, page_batch, read_page
from nepse_ray.pool.direct import DirectRequest, DirectRequests

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI

PageForm = Literal["arrow", "raw"]
Answer = PageBatch | Exception
#: Where a page becomes a table: ``arrow`` in the worker (the batch travels pickled), ``raw`` here on the driver
#: from the body bytes. Chosen by the ``page-form`` scenario of ``nepse-ray bench`` (driver CPU per page and peak
#: RSS of each).
PAGE_FORM: PageForm = "arrow"

#: Requests a pull keeps submitted per worker slot (``max_workers * slots_per_worker`` slots): enough to keep
#: every slot busy while answers travel back; the ones without a slot wait in this process as plain data.
WINDOW_PER_SLOT = 4


def as_page(endpoint: str, answer: object) -> PageBatch:
    """A page answer in the ``arrow`` or ``raw`` form as a :class:`PageBatch`."""
    if isinstance(answer, PageBatch):
        return answer
    if isinstance(answer, bytes):
        return read_page(endpoint, answer) or page_batch(endpoint, json.loads(answer))
    raise TypeError(f"{endpoint}: the pool answered a {type(answer).__name__}, not a page")


def default_window(api: NepseWorkerAPI) -> int:
    return WINDOW_PER_SLOT * api.options.max_workers * api.options.slots_per_worker


class PoolPageSource:
    """Sends page requests through a pool's direct path and collects their answers as batches or the errors that
    ended them; :meth:`close` gives back what it still holds (the runner calls it however the pull ends).

    ``pool`` is a facade (the source becomes a new caller on its direct path) or a caller already made, as a
    process without a facade makes one (a Ray Data read task: :func:`nepse_ray.pool.lookup.direct_requests`).
    """

    def __init__(self, pool: NepseWorkerAPI | DirectRequests, form: PageForm = PAGE_FORM) -> None:
        self._requests = pool if isinstance(pool, DirectRequests) else pool.direct()
        self._form = form

    def submit(self, endpoint: str, params: dict[str, Any]) -> DirectRequest:
        return self._requests.submit(endpoint, params, self._form)

    def wait(self, handles: Sequence[Any], timeout: float) -> list[tuple[Any, Answer]]:
        return [(handle, self._page(handle, answer)) for handle, answer in self._requests.wait(timeout)]

    def close(self) -> None:
        self._requests.close()

    @staticmethod
    def _page(handle: DirectRequest, answer: Any) -> Answer:
        if isinstance(answer, Exception):
            return answer
        try:
            return as_page(handle.request.name, answer)
        except Exception as error:  # a page that cannot be read as a table (NepseInvalidResponseError)
            return error
