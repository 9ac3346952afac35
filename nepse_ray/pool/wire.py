"""Results on their way from a worker to the caller: bytes through the coordinator, objects only where they are used.

A worker answers a catalogue request with a :class:`Wire`: the endpoint's name, the form the caller asked for and
one ``bytes`` payload (the response body for ``model`` and ``raw``, the pickled ``tables.PageBatch`` for ``arrow``).
``Wire.__reduce__`` names the module-level :func:`restore`, so wherever Ray unpickles a result:

* in the coordinator process, which calls :func:`pass_through` once at start, ``restore`` returns the ``Wire``
  itself: the coordinator decides, retries, caches and coalesces, but only ever moves the bytes;
* anywhere else (the driver's ``ray.get``/``await``, a task or actor the ObjectRef is passed to), ``restore``
  materialises the result: the pydantic model (validated from the bytes in one pass), the ``PageBatch`` or the bytes;
  a model the facade's prefetcher already made from the same bytes (``prefetch.py``) is taken instead. The
  prefetcher's own thread keeps each ``Wire`` as it is (:func:`keep_wires_in_this_thread`).

Why this design, measured on the shared 2-core development machine for a 500-row floorsheet page (208 KiB body;
``nepse-ray bench --only wire-costs``): pickling and unpickling the page as a pydantic model costs 8 ms (3.5 +
2.1 ms on a quiet machine, timing ``pickle.dumps`` and ``pickle.loads`` of the model alone), and the old coordinator did
both once per page, ~20 ms of its CPU with the framing around it; as a passing ``Wire`` it costs 0.03 ms. What is left
is Ray's own cost of moving a page through an actor: a bare async actor relaying a worker's page spends 2.2 ms of CPU
per page, one that only grants a worker 0.5 ms; the coordinator itself spends 3.1 ms per page at full speed.

The alternative, handing the caller a worker and letting it receive the result directly (Ray Serve's router),
would cut the coordinator's share towards the grant floor (a grant and a release per request), but Ray never
flattens an ObjectRef returned from a task and an ObjectRef cannot be fulfilled later by another process, so that
design cannot give ``api.submit`` an ObjectRef at once with the pool's retries behind it: it needs a driver-side
router and futures that are not ObjectRefs, and it cannot coalesce or cache across drivers. The pass-through keeps
one request = one ObjectRef = one hop through the coordinator, which retries, coalesces and caches. Pulls need none
of that (their pages are distinct and they wait on their own loop), so they take that other design
(``direct.py``): a ``Wire`` then goes from the worker straight to the pulling process, and the coordinator's CPU
per page fell from 2.7-4.0 ms to 0.6-0.9 ms at W = 5..20 (both paths side by side in one run). (Raising Ray's
``max_direct_call_object_size`` to 1 MiB when the cluster starts keeps pages out of the object store and brought
the relay floor from 2.6 to 1.6 ms per page in one run; a cluster-level choice, not the pool's.)

The coordinator cannot hand back the worker's own ref; it returns the ``Wire`` it holds, which Ray pickles again
in ~0.01 ms.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any

from nepse_ray.nepse.client import read_checked_body, read_json, read_model
from nepse_ray.nepse.endpoints import CATALOGUE, Endpoint
from nepse_ray.nepse.tables import PageBatch, page_batch, read_page
from nepse_ray.nepse.transport import RawResponse
from nepse_ray.pool.made_ahead import PREFETCHED
from nepse_ray.pool.request import Form

_pass_through = False
_this_thread = threading.local()


def pass_through() -> None:
    """Make every :class:`Wire` unpickled in this process stay a ``Wire`` (called once, by the coordinator)."""
    global _pass_through
    _pass_through = True


def keep_wires_in_this_thread() -> None:
    """Make every :class:`Wire` unpickled in the calling thread stay a ``Wire`` (the prefetcher's thread)."""
    _this_thread.keeps_wires = True


class Wire:
    """One result in transit: ``payload`` bytes that become the ``form`` the caller asked for where it lands."""

    __slots__ = ("endpoint", "form", "payload")

    def __init__(self, endpoint: str, form: Form, payload: bytes) -> None:
        self.endpoint = endpoint
        self.form = form
        self.payload = payload

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, Form, bytes]]:
        return restore, (self.endpoint, self.form, self.payload)

    @property
    def nbytes(self) -> int:
        return len(self.payload)

    def materialise(self) -> Any:
        """The result in its form: the endpoint's model, a ``PageBatch``, or the checked body bytes."""
        if self.form == "raw":
            return self.payload
        if self.form == "arrow":
            batch: PageBatch = pickle.loads(self.payload)
            return batch
        return read_model(CATALOGUE[self.endpoint], RawResponse(200, {}, self.payload))

    def __repr__(self) -> str:  # the payload is market data, not a secret, but it is long
        return f"Wire({self.endpoint!r}, {self.form!r}, {len(self.payload)} bytes)"


def restore(endpoint: str, form: Form, payload: bytes) -> Any:
    """Unpickling a :class:`Wire`: itself in the coordinator (:func:`pass_through`) and the prefetcher's thread, its
    result everywhere else."""
    wire = Wire(endpoint, form, payload)
    if _pass_through or getattr(_this_thread, "keeps_wires", False):
        return wire
    made = PREFETCHED.take(endpoint, payload) if form == "model" else None
    return wire.materialise() if made is None else made


def packer(form: Form) -> Callable[[Endpoint, RawResponse], Wire]:
    """The ``read`` function (see ``NepseClient.fetch``) a worker uses to answer in ``form``.

    Every form is checked in the worker, so a malformed answer raises ``NepseInvalidResponseError`` there and the
    pool retries it: ``model`` and ``raw`` validate the body against the endpoint's model (and ship the body),
    ``arrow`` converts the page with ``tables.read_page`` in one pass, or ``tables.page_batch`` when that reader
    refuses the body as it is (and ships the batch).
    """
    if form == "arrow":
        return _pack_batch

    def pack_body(endpoint: Endpoint, raw: RawResponse) -> Wire:
        return Wire(endpoint.name, form, read_checked_body(endpoint, raw))

    return pack_body


def _pack_batch(endpoint: Endpoint, raw: RawResponse) -> Wire:
    size = raw.page_size
    batch = read_page(endpoint.name, raw.body, size) or page_batch(endpoint.name, read_json(raw, endpoint.name), size)
    return Wire(endpoint.name, "arrow", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
