"""Where a pull's rows go: memory, or a Parquet, CSV or JSON-lines file that appears only when it is complete.

A file sink writes to a hidden temporary file next to the file asked for (created exclusively under a random
name, :mod:`.files`) and, in :meth:`commit`, the last step of a complete pull, flushes it to disk and renames it
to ``NAME``, so an incomplete, interrupted or killed pull never leaves a file under the final name. :meth:`abort`
renames it to ``NAME.partial`` (closed and readable) when asked to, for the rows an
:class:`~nepse_ray.pulls.IncompletePullError` carries, and deletes it otherwise.

Parquet rows are grouped into row groups of about ``ROW_GROUP_ROWS`` rows, so memory stays flat whatever the
size of the pull. CSV cells of text columns that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return get a leading ``'`` (CSV injection: spreadsheets would run them as formulas); numbers are left alone.
"""

from __future__ import annotations

import abc
import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from nepse_ray.nepse.errors import NepseInputError

from .files import open_temporary, publish, sync_and_close

#: Rows per Parquet row group (about 10 MB of floorsheet rows in memory).
ROW_GROUP_ROWS = 50_000
PARTIAL_SUFFIX = ".partial"
_FORMULA_START = r"^[=+\-@\t\r]"


class OutputError(NepseInputError):
    """The output file cannot be written (no such directory, no permission, unknown format)."""


class TableSink:
    """Keeps every batch in memory."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._batches: list[pa.RecordBatch] = []

    def write(self, batch: pa.RecordBatch) -> None:
        self._batches.append(batch)

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self._batches, schema=self.schema)


class FileSink(abc.ABC):
    """Rows streamed to ``path`` through a hidden temporary file beside it (:mod:`.files`); the format follows the
    suffix (:func:`file_sink`)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + PARTIAL_SUFFIX)
        self.schema = schema
        self.rows = 0
        self._closed = False
        try:
            self.temporary, self._handle = open_temporary(self.path.parent, self.path.name)
        except OSError as error:
            raise OutputError(f"cannot write {self.path}: {error.strerror or error}") from None
        try:
            self._open(self._handle)
        except BaseException as error:  # Ctrl-C while the file was being opened included: leave nothing behind
            self._handle.close()
            self.temporary.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise OutputError(f"cannot write {self.path}: {error.strerror or error}") from None
            raise

    @abc.abstractmethod
    def _open(self, handle: BinaryIO) -> None: ...

    @abc.abstractmethod
    def _write(self, batch: pa.RecordBatch) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    def write(self, batch: pa.RecordBatch) -> None:
        self._write(batch)
        self.rows += batch.num_rows

    def _finish(self, durable: bool) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._close()
            finally:
                sync_and_close(self._handle, durable=durable)

    def commit(self) -> Path:
        """Close the file, flush it to disk and give it its final name."""
        self._finish(durable=True)
        return publish(self.temporary, self.path)

    def abort(self, keep: bool = False) -> Path | None:
        """Close the file; keep it as ``NAME.partial`` (returned) or delete it."""
        try:
            self._finish(durable=False)
        finally:
            if not keep:
                self.temporary.unlink(missing_ok=True)
        if not keep:
            return None
        os.replace(self.temporary, self.partial)
        return self.partial


class ParquetSink(FileSink):
    def _open(self, handle: BinaryIO) -> None:
        self._writer = pq.ParquetWriter(handle, self.schema)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def _write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=self.schema))
        self._pending, self._pending_rows = [], 0

    def _close(self) -> None:
        try:
            self._flush()
        finally:
            self._writer.close()


class CsvSink(FileSink):
    def _open(self, handle: BinaryIO) -> None:
        self._writer = pa_csv.CSVWriter(handle, plain_schema(self.schema))

    def _write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(csv_safe(batch))

    def _close(self) -> None:
        self._writer.close()


class JsonLinesSink(FileSink):
    def _open(self, handle: BinaryIO) -> None:
        self._text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")

    def _write(self, batch: pa.RecordBatch) -> None:
        self._text.writelines(json.dumps(row, default=_iso, ensure_ascii=False) + "\n" for row in batch.to_pylist())

    def _close(self) -> None:
        self._text.flush()
        self._text.detach()  # the file itself is flushed to disk and closed by the sink


SINKS: dict[str, type[FileSink]] = {".parquet": ParquetSink, ".csv": CsvSink, ".jsonl": JsonLinesSink}


def file_sink(path: Path | str, schema: pa.Schema) -> FileSink:
    """The sink for ``path``'s suffix; :class:`OutputError` for a suffix nepse-ray cannot write."""
    check_writable(path)
    return SINKS[Path(path).suffix.lower()](Path(path), schema)


def check_writable(path: Path | str) -> None:
    """Raise :class:`OutputError` now if a pull could not write ``path`` (before anything is fetched)."""
    path = Path(path)
    if path.suffix.lower() not in SINKS:
        raise OutputError(f"cannot write {path}: the format follows the suffix, one of {', '.join(SINKS)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: {folder} is not a writable directory")


def write_table(table: pa.Table, path: Path | str) -> Path:
    """Write ``table`` to ``path`` (format by suffix) through a temporary file."""
    sink = file_sink(path, table.schema)
    try:
        for batch in table.to_batches():
            sink.write(batch)
    except BaseException:
        sink.abort()
        raise
    return sink.commit()


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary-encoded text as plain text (what a CSV file holds)."""
    return pa.schema(
        [pa.field(f.name, f.type.value_type, f.nullable) if pa.types.is_dictionary(f.type) else f for f in schema]
    )


def csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with dictionary columns decoded and text cells that a spreadsheet would run escaped with ``'``."""
    columns = []
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type):
            risky = pc.match_substring_regex(column, _FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=plain_schema(batch.schema))


def _iso(value: Any) -> str:
    """JSON for dates and times: ISO 8601 (times keep their +05:45 offset)."""
    if hasattr(value, "isoformat"):
        text: str = value.isoformat()
        return text
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
