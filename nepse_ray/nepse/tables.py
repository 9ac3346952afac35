"""Arrow record batches of NEPSE's paged and list endpoints: one schema per row model, one conversion per page.

A page of 500 floorsheet rows becomes one :class:`pyarrow.RecordBatch` with real dtypes instead of 500 pydantic
objects: ids and counts ``int64``, prices and amounts ``float64``, dates ``date32``, times
``timestamp[us, tz=Asia/Kathmandu]`` and symbols and names dictionary-encoded strings. Columns take the row
model's Python names (``contract_id``, ``stock_symbol``), in the model's field order, so the schema of every
paged endpoint is derived from :mod:`models` and never written out twice.

A page arrives as JSON bytes; :func:`read_page` turns them into the batch in one pass of Arrow's JSON reader,
without a Python object per value. Where that reader refuses a body as it is (a number sent as a string, a
missing paging field, a row that is not an object), the caller decodes it with ``json`` and calls
:func:`page_batch`, which converts what it tolerantly can and names what it cannot: both ways give the same batch,
and every error comes from :func:`page_batch`.

The site sends times without a zone, in Nepal time. Nepal has kept UTC+05:45 without daylight saving since 1986,
so the conversion subtracts that fixed offset; no time-zone database is needed to build a batch. Prices the site
writes as ``0`` for "none yet" (the row model's :data:`~nepse_ray.nepse.models.ZeroMeansNone` fields: a close
while the market is open, the previous close of a security listed today) become null, and each field's
description in the row model travels as the Arrow field's ``description`` metadata.

>>> batch = page_batch("today_price", {"content": [{"businessDate": "2026-11-30", "securityId": 131,
...     "symbol": "NABIL", "closePrice": 512.0, "lastUpdatedTime": "2026-11-30T14:59:59.5"}],
...     "totalElements": 1, "totalPages": 1, "number": 0})
>>> batch.rows.num_rows, batch.total_elements
(1, 1)
>>> batch.rows.column("last_updated_time")[0].as_py().isoformat()
'2026-11-30T14:59:59.500000+05:45'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import struct
import types
import typing
from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.json as pa_json

from .drift import missing_required_error
from .endpoints import CATALOGUE, Endpoint
from .errors import NepseInputError, NepseInvalidResponseError
from .models import ZERO_MEANS_NONE
from .paging import check_page

#: The zone every NEPSE time is in.
NEPAL_TZ = "Asia/Kathmandu"
_NEPAL_OFFSET_US = (5 * 3600 + 45 * 60) * 1_000_000
# The offset as an Arrow scalar built from its bytes: converting any Python value (``pa.scalar``, ``pa.array``)
# makes pyarrow import pandas, ~0.25 s of CPU in a fresh worker process, which the one-pass path never needs.
_NEPAL_OFFSET = pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(struct.pack("<q", _NEPAL_OFFSET_US))])[0]

#: String fields that hold a time of day in Nepal: stored as zoned timestamps.
TIMESTAMP_FIELDS = frozenset({"trade_time", "last_updated_time", "last_updated_date_time", "generated_time"})
#: String fields with few distinct values: stored dictionary-encoded (one copy of each symbol per batch).
DICTIONARY_FIELDS = frozenset(
    {
        "stock_symbol",
        "symbol",
        "security_name",
        "buyer_member_id",
        "seller_member_id",
        "buyer_broker_name",
        "seller_broker_name",
    }
)

#: Columns a pull adds to every row of a page, as ``((name, value), ...)``: hashable, so schemas can be cached.
Constants = tuple[tuple[str, int | str], ...]

_SCALARS: Mapping[object, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    str: pa.string(),
    dt.date: pa.date32(),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """One column of a paged endpoint's table: its Python name, the site's JSON key, type and whether required;
    whether the site's ``0`` means null, and what the column holds."""

    name: str
    wire: str
    type: pa.DataType
    required: bool
    zero_is_null: bool = False
    description: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PageBatch:
    """One page of a paged endpoint as Arrow: the rows and the paging facts the site sent with them.

    ``extras`` holds the wrapper's other numbers the response model declares (the floorsheet's ``totalAmount``,
    ``totalQty``, ``totalTrades``), typed as the model types them, ``None`` where the site left one out. ``absent``
    names the optional fields no row of a non-empty page had (the site dropped or renamed them: their column is
    null), so a pull can say so once.
    """

    endpoint: str
    rows: pa.RecordBatch
    number: int
    total_pages: int
    total_elements: int
    extras: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)
    absent: tuple[str, ...] = ()


def paged_endpoint(name: str) -> Endpoint:
    """The catalogue entry of paged endpoint ``name``; :class:`NepseInputError` for any other name."""
    endpoint = CATALOGUE.get(name)
    if endpoint is None or not endpoint.paged:
        paged = ", ".join(sorted(n for n, e in CATALOGUE.items() if e.paged))
        raise NepseInputError(f"{name!r} is not a paged endpoint; paged endpoints: {paged}")
    return endpoint


def _table_endpoint(name: str) -> Endpoint:
    """A paged endpoint, or one that answers a plain list of rows (``security_list``, ``company_list``)."""
    endpoint = CATALOGUE.get(name)
    if endpoint is not None and not endpoint.paged and typing.get_origin(endpoint.response) is list:
        return endpoint
    return paged_endpoint(name)


@functools.cache
def columns(endpoint: str) -> tuple[Column, ...]:
    """The columns of ``endpoint`` (paged, or a plain list of rows), derived from its row model."""
    row_model = _row_model(_table_endpoint(endpoint))
    out = []
    for name, field in row_model.model_fields.items():
        base, optional = _unwrap_optional(field.annotation)
        if name in TIMESTAMP_FIELDS:
            arrow_type: pa.DataType = pa.timestamp("us", tz=NEPAL_TZ)
        elif name in DICTIONARY_FIELDS:
            arrow_type = pa.dictionary(pa.int32(), pa.string())
        elif base in _SCALARS:
            arrow_type = _SCALARS[base]
        else:
            raise TypeError(f"{row_model.__name__}.{name}: no Arrow type for {field.annotation!r}")
        wire = field.alias or name
        required = field.is_required() and not optional
        zero_is_null = ZERO_MEANS_NONE in field.metadata
        out.append(Column(name, wire, arrow_type, required, zero_is_null, field.description))
    return tuple(out)


@functools.cache
def schema(endpoint: str, constants: Constants = ()) -> pa.Schema:
    """The Arrow schema of ``endpoint``'s rows, with the ``constants`` columns (see :func:`with_constants`) first."""
    fields = [
        pa.field(
            c.name, c.type, nullable=not c.required, metadata={"description": c.description} if c.description else None
        )
        for c in columns(endpoint)
    ]
    return pa.schema([*(pa.field(name, _constant_type(value), nullable=False) for name, value in constants), *fields])


def rows_batch(endpoint: str, rows: object) -> pa.RecordBatch:
    """The rows of a list endpoint's decoded answer (``security_list``, ``company_list``) as one record batch."""
    _table_endpoint(endpoint)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise _invalid(endpoint, "the answer is not a list of JSON objects")
    return _record_batch(endpoint, rows)


def with_constants(batch: pa.RecordBatch, constants: Constants) -> pa.RecordBatch:
    """``batch`` with one column per ``(name, value)`` of ``constants`` in front, every row holding ``value``.

    A price-history page does not say which security it belongs to; the pull adds ``security_id`` and ``symbol``.
    Integers become ``int64``, strings dictionary-encoded strings.
    """
    if not constants:
        return batch
    arrays = [_constant_array(value, batch.num_rows) for _, value in constants]
    fields = [pa.field(name, array.type, nullable=False) for (name, _), array in zip(constants, arrays, strict=True)]
    return pa.RecordBatch.from_arrays([*arrays, *batch.columns], schema=pa.schema([*fields, *batch.schema]))


def _constant_type(value: int | str) -> pa.DataType:
    return pa.int64() if isinstance(value, int) else pa.dictionary(pa.int32(), pa.string())


def _constant_array(value: int | str, length: int) -> pa.Array:
    if isinstance(value, int):
        return pa.array([value] * length, type=pa.int64())
    return pa.DictionaryArray.from_arrays(pa.array([0] * length, type=pa.int32()), pa.array([value]))


def page_batch(endpoint: str, payload: object, size: int | None = None) -> PageBatch:
    """Convert one decoded page of ``endpoint`` (the JSON the site sent) into a :class:`PageBatch`.

    Raises :class:`NepseInvalidResponseError` (retryable) when the page lacks its paging fields, a required value
    is missing, or a value does not fit its column, and :class:`~nepse_ray.nepse.errors.PagingError` (not
    retryable) when its paging numbers are out of bounds or it holds more rows than ``size``, the page size the
    request asked for (see :func:`~nepse_ray.nepse.paging.check_page`).
    """
    spec = paged_endpoint(endpoint)
    page = payload.get(spec.page_field) if spec.page_field and isinstance(payload, dict) else payload
    if not isinstance(page, dict) or not isinstance(page.get("content"), list):
        raise _invalid(endpoint, "the page has no content list")
    rows: list[object] = page["content"]
    if not all(isinstance(row, dict) for row in rows):
        raise _invalid(endpoint, "a row is not a JSON object")
    try:
        paging = [_paging_int(page[key]) for key in ("totalElements", "totalPages")]
        paging.append(_paging_int(page.get("number", 0)))
    except (KeyError, TypeError, ValueError):
        raise _invalid(endpoint, "the page lacks totalElements, totalPages or number") from None
    total_elements, total_pages, number = check_page(
        endpoint, rows=len(rows), total_elements=paging[0], total_pages=paging[1], number=paging[2], size=size
    )
    extras: dict[str, float | int | None] = {}
    if isinstance(payload, dict):
        extras = {wire: _extra(kind, payload.get(wire)) for wire, kind in _extra_fields(endpoint)}
    seen = {key for row in rows for key in row}  # type: ignore[attr-defined]
    return PageBatch(
        endpoint=endpoint,
        rows=_record_batch(endpoint, rows),
        number=number,
        total_pages=total_pages,
        total_elements=total_elements,
        extras=extras,
        absent=tuple(c.wire for c in columns(endpoint) if rows and not c.required and c.wire not in seen),
    )


def _paging_int(value: object) -> object:
    """A paging number as an int (the site may send ``"53112"``); an infinite float as it is, for
    :func:`~nepse_ray.nepse.paging.check_page` to refuse (``int`` would raise ``OverflowError``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return int(value)  # type: ignore[call-overload]


def read_page(endpoint: str, body: bytes, size: int | None = None) -> PageBatch | None:
    """``body``, a page of paged endpoint ``endpoint`` as the site sent it, converted in one pass of Arrow's JSON
    reader; ``None`` when that reader cannot take the body as it is.

    ``None`` is not an error: decode the body with ``json`` and call :func:`page_batch`, which converts what it
    tolerantly can (numbers sent as strings) and raises the named error for what it cannot. A page whose paging
    numbers are out of bounds or that holds more rows than ``size`` raises
    :class:`~nepse_ray.nepse.errors.PagingError` here as there.

    >>> body = b'{"content": [{"businessDate": "2026-11-30", "securityId": 131, "symbol": "NABIL"}], '
    >>> read_page("today_price", body + b'"totalElements": 1, "totalPages": 1, "number": 0}').rows.num_rows
    1
    >>> read_page("today_price", body + b'"totalElements": "1", "totalPages": 1}') is None
    True
    """
    spec = paged_endpoint(endpoint)
    try:
        table = pa_json.read_json(
            pa.BufferReader(body),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(body), 1 << 16)),
            parse_options=_parse_options(endpoint),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_rows != 1 or table.column(0).num_chunks != 1:
        return None
    top = table.to_struct_array().chunk(0)
    page = top.field(spec.page_field) if spec.page_field else top
    if page.null_count or page.field("content").null_count:
        return None
    rows = page.field("content").flatten()
    paging = {key: page.field(key)[0].as_py() for key in ("totalElements", "totalPages", "number")}
    if rows.null_count or paging["totalElements"] is None or paging["totalPages"] is None:
        return None
    total_elements, total_pages, number = check_page(
        endpoint,
        rows=len(rows),
        total_elements=paging["totalElements"],
        total_pages=paging["totalPages"],
        number=paging["number"] or 0,
        size=size,
    )
    arrays = [_finish(column, array) for column, array in zip(columns(endpoint), rows.flatten(), strict=True)]
    if any(column.required and array.null_count for column, array in zip(columns(endpoint), arrays, strict=True)):
        return None
    return PageBatch(
        endpoint=endpoint,
        rows=pa.RecordBatch.from_arrays(arrays, schema=schema(endpoint)),
        number=number,
        total_pages=total_pages,
        total_elements=total_elements,
        extras={wire: top.field(wire)[0].as_py() for wire, _ in _extra_fields(endpoint)},
        absent=_absent(endpoint, body) if len(rows) else (),
    )


def _absent(endpoint: str, body: bytes) -> tuple[str, ...]:
    """The optional columns whose key appears nowhere in ``body`` (each search ends at the first row that has it)."""
    return tuple(c.wire for c in columns(endpoint) if not c.required and b'"%s"' % c.wire.encode() not in body)


@functools.cache
def _parse_options(endpoint: str) -> pa_json.ParseOptions:
    """The JSON reader's options for ``endpoint``'s pages: the body's shape as Arrow types, other keys ignored."""
    spec = paged_endpoint(endpoint)
    row = pa.struct([pa.field(column.wire, _wire_type(column)) for column in columns(endpoint)])
    page = [pa.field("content", pa.list_(row))]
    page += [pa.field(key, pa.int64()) for key in ("totalElements", "totalPages", "number")]
    top = page
    if spec.page_field:
        extras = [pa.field(wire, _SCALARS[kind]) for wire, kind in _extra_fields(endpoint)]
        top = [pa.field(spec.page_field, pa.struct(page)), *extras]
    return pa_json.ParseOptions(explicit_schema=pa.schema(top), unexpected_field_behavior="ignore")


@functools.cache
def _extra_fields(endpoint: str) -> tuple[tuple[str, type[int] | type[float]], ...]:
    """The numbers a wrapped page's response declares beside the page, as ``(JSON key, int or float)``."""
    spec = paged_endpoint(endpoint)
    if not spec.page_field:
        return ()
    out: list[tuple[str, type[int] | type[float]]] = []
    for name, field in spec.response.model_fields.items():
        base, _ = _unwrap_optional(field.annotation)
        if name != spec.page_field and base in (int, float):
            out.append((field.alias or name, int if base is int else float))
    return tuple(out)


def _extra(kind: type[int] | type[float], value: object) -> int | float | None:
    """A wrapper number as its model types it; ``None`` for one missing, not a number, not finite or beyond
    int64 (``10**400`` would raise ``OverflowError`` as a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return kind(value) if -(2**63) <= value < 2**63 else None
    if not math.isfinite(value) or (kind is int and not value.is_integer()):
        return None
    return kind(value)


def _record_batch(endpoint: str, rows: Sequence[object]) -> pa.RecordBatch:
    arrays = [_column_array(endpoint, column, rows) for column in columns(endpoint)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema(endpoint))


def _column_array(endpoint: str, column: Column, rows: Sequence[object]) -> pa.Array:
    values = [row.get(column.wire) for row in rows]  # type: ignore[attr-defined]
    try:
        wire_type = _wire_type(column)
        if pa.types.is_timestamp(wire_type) or pa.types.is_string(wire_type):
            array = _finish(column, pa.array(values, type=pa.string()).cast(wire_type))
        else:
            array = _finish(column, _typed(values, wire_type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        raise _invalid(endpoint, f"column {column.wire} holds a value that is not {column.type}") from None
    if column.required and array.null_count:
        if array.null_count == len(rows) and all(column.wire not in row for row in rows):  # type: ignore[operator]
            unknown = {key for row in rows for key in row} - {c.wire for c in columns(endpoint)}  # type: ignore[attr-defined]
            raise missing_required_error(endpoint, [column.wire], unknown)
        raise _invalid(endpoint, f"column {column.wire} is missing in {array.null_count} row(s)")
    return array


def _wire_type(column: Column) -> pa.DataType:
    """The type a column's JSON values are read as before :func:`_finish`: dictionaries and dates as strings,
    times as naive timestamps (Nepal wall-clock time)."""
    if pa.types.is_dictionary(column.type) or pa.types.is_date(column.type):
        return pa.string()
    if pa.types.is_timestamp(column.type):
        return pa.timestamp("us")
    return column.type


def _finish(column: Column, array: pa.Array) -> pa.Array:
    """A column read as :func:`_wire_type` in its table type."""
    if pa.types.is_dictionary(column.type):
        return array.dictionary_encode()
    # pyarrow.compute is imported where it is needed, not at the top: it costs ~55 ms to import, and a worker that
    # only ever answers in the model form (interactive calls, a restart's first call) should not pay it at start.
    if pa.types.is_timestamp(column.type):  # Nepal wall-clock time -> the UTC instant, zoned
        import pyarrow.compute as pc

        return pc.call_function("subtract", [array.cast(pa.int64()), _NEPAL_OFFSET]).cast(column.type)
    if pa.types.is_date(column.type):
        return array.cast(column.type)
    if column.zero_is_null and array.null_count < len(array):
        import pyarrow.compute as pc

        return pc.if_else(pc.equal(array, 0), pa.scalar(None, column.type), array)
    return array


def _typed(values: list[object], arrow_type: pa.DataType) -> pa.Array:
    """``values`` as ``arrow_type``; numbers the site sends as strings (``"2790"``) are converted too."""
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if pa.types.is_integer(arrow_type):
            return pa.array([None if v is None else int(v) for v in values], type=arrow_type)  # type: ignore[call-overload]
        if pa.types.is_floating(arrow_type):
            return pa.array([None if v is None else float(v) for v in values], type=arrow_type)  # type: ignore[arg-type]
        raise


def _row_model(endpoint: Endpoint) -> type[typing.Any]:
    response = endpoint.response
    if not endpoint.paged:  # list[Row]
        listed: type[typing.Any] = typing.get_args(response)[0]
        return listed
    page_type = response.model_fields[endpoint.page_field].annotation if endpoint.page_field else response
    row: type[typing.Any] = page_type.model_fields["content"].annotation.__args__[0]
    return row


def _unwrap_optional(annotation: object) -> tuple[object, bool]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def _invalid(endpoint: str, what: str) -> NepseInvalidResponseError:
    return NepseInvalidResponseError(f"{endpoint}: {what}; the page cannot be read as a table", endpoint=endpoint)
