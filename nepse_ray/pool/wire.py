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

A body of :data:`COMPRESS_FROM` bytes or more travels LZ4-compressed (pyarrow's codec; ``Wire.size`` is then the
body's length): a 500-row floorsheet body of 210 KiB becomes ~41 KiB in 0.2 ms of the worker's CPU and is
restored in 0.05 ms, so it fits in Ray's reply to the task (objects under 100 KiB travel inline) instead of the
object store, on both hops. The coordinator's CPU to relay such a page fell from 2.6 to 1.2 ms (``nepse-ray bench
--only wire-costs``, ``relay_cpu`` and ``relay_compressed_cpu`` in one run), and its cache holds a third as many
bytes per page. Arrow batches are left as they are (58 KiB for the same page).
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any

import pyarrow

from nepse_ray.nepse.client import read_checked_body, read_json, read_model
from nepse_ray.nepse.endpoints import CATALOGUE, Endpoint
from nepse_ray.nepse.tables import PageBatch, page_batch, read_page
from nepse_ray.nepse.transport import RawResponse
from nepse_ray.pool.made_ahead import PREFETCHED
from nepse_ray.pool.request import Form

#: Bodies of at least this many bytes travel compressed with :data:`CODEC` (see the module docstring).
COMPRESS_FROM = 32 * 1024
CODEC = "lz4"

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
    """One result in transit: ``payload`` bytes that become the ``form`` the caller asked for where it lands.

    A body form's ``payload`` is the body itself, or (``size`` > 0) the body LZ4-compressed from ``size`` bytes:
    :meth:`of_body` compresses bodies of :data:`COMPRESS_FROM` bytes or more (see the module docstring).
    """

    __slots__ = ("endpoint", "form", "payload", "size")

    def __init__(self, endpoint: str, form: Form, payload: bytes, size: int = 0) -> None:
        self.endpoint = endpoint
        self.form = form
        self.payload = payload
        self.size = size

    @classmethod
    def of_body(cls, endpoint: str, form: Form, body: bytes) -> Wire:
        """The ``Wire`` of a ``model`` or ``raw`` answer: the body, compressed if it is long."""
        if len(body) < COMPRESS_FROM:
            return cls(endpoint, form, body)
        return cls(endpoint, form, pyarrow.compress(body, codec=CODEC, asbytes=True), len(body))

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, Form, bytes, int]]:
        return restore, (self.endpoint, self.form, self.payload, self.size)

    @property
    def nbytes(self) -> int:
        """The bytes that travel (and that the coordinator's cache holds)."""
        return len(self.payload)

    @property
    def body(self) -> bytes:
        """A body form's response body, uncompressed."""
        if not self.size:
            return self.payload
        body: bytes = pyarrow.decompress(self.payload, decompressed_size=self.size, codec=CODEC, asbytes=True)
        return body

    def materialise(self) -> Any:
        """The result in its form: the endpoint's model, a ``PageBatch``, or the checked body bytes."""
        if self.form == "arrow":
            batch: PageBatch = pickle.loads(self.payload)
            return batch
        if self.form == "raw":
            return self.body
        return read_model(CATALOGUE[self.endpoint], RawResponse(200, {}, self.body))

    def __repr__(self) -> str:  # the payload is market data, not a secret, but it is long
        return f"Wire({self.endpoint!r}, {self.form!r}, {len(self.payload)} bytes)"


def restore(endpoint: str, form: Form, payload: bytes, size: int = 0) -> Any:
    """Unpickling a :class:`Wire`: itself in the coordinator (:func:`pass_through`) and the prefetcher's thread, its
    result everywhere else."""
    wire = Wire(endpoint, form, payload, size)
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
        return Wire.of_body(endpoint.name, form, read_checked_body(endpoint, raw))

    return pack_body


def _pack_batch(endpoint: Endpoint, raw: RawResponse) -> Wire:
    size = raw.page_size
    batch = read_page(endpoint.name, raw.body, size) or page_batch(endpoint.name, read_json(raw, endpoint.name), size)
    return Wire(endpoint.name, "arrow", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
