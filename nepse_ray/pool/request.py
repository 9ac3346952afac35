"""What a caller asks the pool for: a request name, its arguments, the lane it waits in and the form of its result.

A :class:`PoolRequest` is built and checked on the driver (:meth:`PoolRequest.checked`), so bad input raises
:class:`~nepse_ray.nepse.errors.NepseInputError` before anything is submitted, and travels to the coordinator as
one small picklable value::

    >>> request = PoolRequest.checked("floorsheet", {"page": 3}, lane="bulk", form="arrow", caller="c1")
    >>> request.worker_call()
    ('call', ('floorsheet', {'page': 3}, 'arrow'))

Names are catalogue endpoints (``floorsheet``, ``market_open`` ...) or the seed design's session methods
(``get_access_token`` ...), which a worker answers from its token state; :meth:`PoolRequest.worker_call` is the one
routing table from a request to the worker method that serves it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, get_args

from nepse_ray.nepse.endpoints import CATALOGUE, prepare
from nepse_ray.nepse.errors import NepseInputError

#: ``interactive`` requests wait only for the next free worker slot; ``bulk`` requests queue behind each other.
Lane = Literal["interactive", "bulk"]
#: What the caller receives: the endpoint's pydantic model, a ``tables.PageBatch`` (paged endpoints), or the
#: response body bytes, checked by the worker to be the JSON the endpoint promises.
Form = Literal["model", "arrow", "raw"]

LANES: tuple[Lane, ...] = get_args(Lane)
FORMS: tuple[Form, ...] = get_args(Form)

#: The seed design's single-token methods, answered by a worker from its token state.
SEED_METHODS: tuple[str, ...] = (
    "get_access_token",
    "get_salts",
    "get_market_id",
    "get_market_status",
    "get_post_payload_id",
    "get_post_payload_id_for_floor_sheet",
    "get_security_brief",
    "get_security_symbol_id_map",
)
_SEED = frozenset(SEED_METHODS)


@dataclasses.dataclass(frozen=True, slots=True)
class PoolRequest:
    """One request as the coordinator receives it; ``caller`` identifies the facade that sent it (fairness)."""

    name: str
    params: Mapping[str, Any]
    form: Form = "model"
    lane: Lane = "bulk"
    caller: str = ""

    @classmethod
    def checked(
        cls, name: str, params: Mapping[str, Any], *, lane: str = "bulk", form: str = "model", caller: str = ""
    ) -> PoolRequest:
        """A request whose name, arguments, lane and form a worker can serve; :class:`NepseInputError` if not."""
        if lane not in LANES:
            raise NepseInputError(f"priority must be one of {', '.join(LANES)}, got {lane!r}")
        if form not in FORMS:
            raise NepseInputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        validate_request(name, params)
        if form != "model" and name in _SEED:
            raise NepseInputError(f"{name} is a session method; it answers in form='model' only, not {form!r}")
        if form == "arrow" and not CATALOGUE[name].paged:
            paged = ", ".join(sorted(n for n, e in CATALOGUE.items() if e.paged))
            raise NepseInputError(f"form='arrow' needs a paged endpoint ({paged}); {name!r} is not one")
        return cls(name, dict(params), form, lane, caller)

    @property
    def is_session(self) -> bool:
        """A seed method, answered from a worker's token state (no HTTP when the token is fresh)."""
        return self.name in _SEED

    def worker_call(self) -> tuple[str, tuple[Any, ...]]:
        """The :class:`~nepse_ray.pool.worker.NepseWorker` method and arguments that serve this request."""
        if self.is_session:
            return "session", (self.name,)
        return "call", (self.name, dict(self.params), self.form)


def validate_request(name: str, params: Mapping[str, object]) -> None:
    """Raise :class:`NepseInputError` unless ``name(**params)`` is a request a worker can serve."""
    if name in _SEED:
        if params:
            raise NepseInputError(f"{name} takes no arguments, got {', '.join(sorted(params))}")
        return
    if name not in CATALOGUE:
        known = ", ".join(sorted([*CATALOGUE, *SEED_METHODS]))
        raise NepseInputError(f"unknown request {name!r}; known: {known}")
    prepare(name, params)
