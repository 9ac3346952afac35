"""Schema drift: how an answer of the site differs from the endpoint's model, field by field.

The models are tolerant (unknown fields kept, optional fields may be absent), so a renamed or dropped field does not
fail validation unless the model requires it; what changed is then easy to miss. :func:`drift` compares one decoded
answer with its model by the site's field names: fields the model does not know, required and optional fields the
answer lacks (in every row of a list or page), and fields whose values no longer fit their type. A field the model
does not know counts only with a value somewhere (the site has long sent some unmodelled fields as null, such as
``auditId``; a renamed field brings its values along), and an optional field the endpoint never sends
(``Endpoint.never_sent``: the sub-indices share the indices' model) is not missing. ``nepse-ray
doctor`` reports it; :func:`missing_required_error` turns a required field gone from a whole answer into a
:class:`~nepse_ray.nepse.errors.NepseSchemaError` that names the endpoint and the field, not a validation dump.

>>> from nepse_ray.nepse.endpoints import CATALOGUE
>>> found = drift(CATALOGUE["live_market"], [{"securityId": 1, "symbolCode": "NABIL", "lastTradedPrice": "x"}])
>>> found.missing_required, found.unknown, found.retyped
(('symbol',), ('symbolCode',), ('lastTradedPrice',))
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .endpoints import Endpoint
from .errors import NepseSchemaError

#: Rows of an answer compared (a page holds up to 500; every row has the same fields).
ROWS_COMPARED = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Drift:
    """The differences of one answer from its model, by the site's field names."""

    unknown: tuple[str, ...] = ()
    missing_required: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()

    @property
    def none(self) -> bool:
        return not (self.unknown or self.missing_required or self.missing_optional or self.retyped)


def row_model(endpoint: Endpoint) -> type[BaseModel] | None:
    """The model of one row (a page's or a list's), or of the whole answer; ``None`` for answers without fields."""
    response = endpoint.response
    if endpoint.paged:
        page = response.model_fields[endpoint.page_field].annotation if endpoint.page_field else response
        response = page.model_fields["content"].annotation
    if typing.get_origin(response) is list:
        response = typing.get_args(response)[0]
    return response if isinstance(response, type) and issubclass(response, BaseModel) else None


def answer_rows(endpoint: Endpoint, payload: object) -> list[dict[str, Any]]:
    """The objects of ``payload`` that the row model describes (at most :data:`ROWS_COMPARED`)."""
    if endpoint.paged and isinstance(payload, dict):
        page = payload.get(endpoint.page_field) if endpoint.page_field else payload
        payload = page.get("content") if isinstance(page, dict) else None
    rows = payload if isinstance(payload, list) else [payload]
    return [row for row in rows[:ROWS_COMPARED] if isinstance(row, dict)]


def wire_fields(model: type[BaseModel]) -> dict[str, bool]:
    """The site's name of each field of ``model``, and whether the model requires it."""
    return {(field.alias or name): field.is_required() for name, field in model.model_fields.items()}


def drift(endpoint: Endpoint, payload: object) -> Drift:
    """How ``payload`` (a decoded answer of ``endpoint``) differs from the endpoint's model."""
    model = row_model(endpoint)
    rows = answer_rows(endpoint, payload)
    if model is None or not rows:
        return Drift()
    fields = wire_fields(model)
    seen = {key for row in rows for key in row}
    valued = {key for row in rows for key, value in row.items() if value is not None}
    missing = [name for name in fields if name not in seen]
    retyped: set[str] = set()
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    for row in rows:
        try:
            adapter.validate_python(row)
        except ValidationError as error:
            retyped.update(str(e["loc"][0]) for e in error.errors() if e["type"] != "missing" and e["loc"])
    return Drift(
        unknown=tuple(sorted(valued - set(fields))),
        missing_required=tuple(name for name in missing if fields[name]),
        missing_optional=tuple(name for name in missing if not fields[name] and name not in endpoint.never_sent),
        retyped=tuple(sorted(retyped & set(fields))),
    )


def missing_required_error(endpoint: str, missing: Sequence[str], unknown: Iterable[str] = ()) -> NepseSchemaError:
    """The error for required fields gone from an answer: names the endpoint, the fields, and what came instead."""
    instead = sorted(unknown)
    came = f"; fields it does not know arrived instead: {', '.join(instead[:5])}" if instead else ""
    return NepseSchemaError(
        f"{endpoint}: the site's answer lacks the required field(s) {', '.join(missing)}{came}. The site seems to "
        "have renamed or dropped them; run nepse-ray doctor and report what it says",
        endpoint=endpoint,
    )


def schema_error(endpoint: Endpoint, error: ValidationError, payload: object) -> NepseSchemaError | None:
    """A :class:`NepseSchemaError` when ``error`` (from validating ``payload``) is required fields missing from the
    whole answer; ``None`` for any other failure."""
    if any(e["type"] != "missing" for e in error.errors()):
        return None
    found = drift(endpoint, payload)
    if not found.missing_required:
        return None
    return missing_required_error(endpoint.name, found.missing_required, found.unknown)
