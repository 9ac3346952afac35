"""Pages through the Ray pool: the engine's :class:`~nepse_ray.pulls.engine.PageSource` on a ``NepseWorkerAPI``.

:func:`submit_page` is the one place that says how a page is asked of the pool (the bulk lane, in the form
:data:`PAGE_FORM`), and :func:`as_page` the one place that turns the answer into a
:class:`~nepse_ray.nepse.tables.PageBatch`, whichever form it came in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import ray
from ray.exceptions import RayActorError, RayTaskError

from nepse_ray.nepse.tables import PageBatch, page_batch
from nepse_ray.pool.errors import PoolShutdownError

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI

PageForm = Literal["arrow", "raw"]
#: Where a page becomes a table: ``arrow`` in the worker (the batch travels pickled), ``raw`` here on the driver
#: from the body bytes. Chosen by ``benchmarks/bench_pulls.py`` (driver CPU per page and peak RSS of each).
PAGE_FORM: PageForm = "arrow"

#: Requests a pull keeps submitted per worker slot (``max_workers * inflight_per_worker`` slots): enough to keep
#: every slot busy while answers travel back, few enough that the coordinator's queue stays short.
WINDOW_PER_SLOT = 4


def submit_page(api: NepseWorkerAPI, endpoint: str, params: dict[str, Any], form: PageForm = PAGE_FORM) -> Any:
    """Ask the pool for one page, in the bulk lane; the ObjectRef of its answer."""
    return api.submit(endpoint, params, priority="bulk", form=form)


def as_page(endpoint: str, answer: object) -> PageBatch:
    """A page answer in the facade's ``arrow`` or ``raw`` form as a :class:`PageBatch`."""
    if isinstance(answer, PageBatch):
        return answer
    if isinstance(answer, bytes):
        return page_batch(endpoint, json.loads(answer))
    raise TypeError(f"{endpoint}: the pool answered a {type(answer).__name__}, not a page")


def default_window(api: NepseWorkerAPI) -> int:
    return WINDOW_PER_SLOT * api.options.max_workers * api.options.inflight_per_worker


class PoolPageSource:
    """Submits page requests to a pool and collects their answers as batches or the errors that ended them."""

    def __init__(self, api: NepseWorkerAPI, form: PageForm = PAGE_FORM) -> None:
        self._api = api
        self._form = form
        self._endpoints: dict[Any, str] = {}

    def submit(self, endpoint: str, params: dict[str, Any]) -> Any:
        ref = submit_page(self._api, endpoint, params, self._form)
        self._endpoints[ref] = endpoint
        return ref

    def wait(self, handles: Sequence[Any], timeout: float) -> list[tuple[Any, PageBatch | Exception]]:
        if not handles:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(list(handles), num_returns=1, timeout=timeout)
        if ready:  # and whatever else is ready by now
            ready, _ = ray.wait(list(handles), num_returns=len(handles), timeout=0)
        return [(ref, self._answer(ref)) for ref in ready]

    def _answer(self, ref: Any) -> PageBatch | Exception:
        endpoint = self._endpoints.pop(ref)
        try:
            return as_page(endpoint, ray.get(ref))
        except RayTaskError as error:
            return error.cause if isinstance(error.cause, Exception) else error
        except RayActorError:
            return PoolShutdownError(endpoint=endpoint)
        except Exception as error:  # a page that cannot be read as a table (NepseInvalidResponseError)
            return error
