"""What a caller asks the pool for: a request name, its arguments, the lane it waits in and the form of its result.

A :class:`PoolRequest` is built and checked on the driver (:meth:`PoolRequest.checked`), so bad input raises
:class:`~nepse_ray.nepse.errors.NepseInputError` before anything is submitted, and travels to the coordinator as
one small picklable value::

    >>> request = PoolRequest.checked("floorsheet", {"page": 3}, lane="bulk", form="arrow", caller="c1")
    >>> request.worker_call()
    ('call', ('floorsheet', {'page': 3}, 'arrow', False))

Names are catalogue endpoints (``floorsheet``, ``market_open`` ...) or session methods (``get_access_token`` ...,
the :data:`~nepse_ray.nepse.endpoints.SESSION_METHODS` table), which a worker answers from its token state;
:meth:`PoolRequest.worker_call` is the one routing table from a request to the worker method that serves it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, get_args

from nepse_ray.nepse.endpoints import CATALOGUE, SESSION_METHODS, PreparedCall, prepare
from nepse_ray.nepse.errors import NepseInputError

#: ``interactive`` requests wait only for the next free worker slot; ``bulk`` requests queue behind each other.
Lane = Literal["interactive", "bulk"]
#: What the caller receives: the endpoint's pydantic model, a ``tables.PageBatch`` (paged endpoints), or the
#: response body bytes, checked by the worker to be the JSON the endpoint promises.
Form = Literal["model", "arrow", "raw"]

LANES: tuple[Lane, ...] = get_args(Lane)
FORMS: tuple[Form, ...] = get_args(Form)


class RequestKey(NamedTuple):
    """The identity of a catalogue request's answer: endpoint, form, and path and query as sent."""

    name: str
    form: Form
    path: str
    query: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PoolRequest:
    """One request as the coordinator receives it; ``caller`` identifies the facade that sent it (fairness)."""

    name: str
    params: Mapping[str, Any]
    form: Form = "model"
    lane: Lane = "bulk"
    caller: str = ""
    key: RequestKey | None = None
    """What makes two requests the same answer: the call as the site would receive it, so ``floorsheet(page=0)``
    and ``floorsheet()`` are one request, and ``business_date=date(2026, 11, 30)`` and ``"2026-11-30"`` too. None
    for session requests, which answer per token. Worked out once, on the driver."""

    @classmethod
    def checked(
        cls, name: str, params: Mapping[str, Any], *, lane: str = "bulk", form: str = "model", caller: str = ""
    ) -> PoolRequest:
        """A request whose name, arguments, lane and form a worker can serve; :class:`NepseInputError` if not."""
        if lane not in LANES:
            raise NepseInputError(f"priority must be one of {', '.join(LANES)}, got {lane!r}")
        if form not in FORMS:
            raise NepseInputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        call = validate_request(name, params)
        if form != "model" and name in SESSION_METHODS:
            raise NepseInputError(f"{name} is a session method; it answers in form='model' only, not {form!r}")
        if form == "arrow" and not CATALOGUE[name].paged:
            paged = ", ".join(sorted(n for n, e in CATALOGUE.items() if e.paged))
            raise NepseInputError(f"form='arrow' needs a paged endpoint ({paged}); {name!r} is not one")
        key = None if call is None else RequestKey(name, form, call.path, call.query)
        return cls(name, dict(params), form, lane, caller, key)

    @property
    def is_session(self) -> bool:
        """A session method, answered from a worker's token state (no HTTP when the token is fresh)."""
        return self.name in SESSION_METHODS

    def worker_call(self, *, urgent: bool = False) -> tuple[str, tuple[Any, ...]]:
        """The :class:`~nepse_ray.pool.worker.NepseWorker` method and arguments that serve this request; it takes its
        worker's next rate-limit permit ahead of bulk requests if it is interactive or ``urgent`` (an interactive
        caller joined it)."""
        if self.is_session:
            return "session", (self.name,)
        return "call", (self.name, dict(self.params), self.form, urgent or self.lane == "interactive")


def validate_request(name: str, params: Mapping[str, object]) -> PreparedCall | None:
    """The prepared call of ``name(**params)`` (None for a session method); :class:`NepseInputError` if a worker
    cannot serve it."""
    if name in SESSION_METHODS:
        if params:
            raise NepseInputError(f"{name} takes no arguments, got {', '.join(sorted(params))}")
        return None
    if name not in CATALOGUE:
        known = ", ".join(sorted([*CATALOGUE, *SESSION_METHODS]))
        raise NepseInputError(f"unknown request {name!r}; known: {known}")
    return prepare(name, params)
