"""Where pulled rows go: files that appear only when complete, CSV that spreadsheets cannot run, JSON lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pull_fakes import BASE, FakeClock, FakeSource, Listing

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.nepse.tables import PageBatch
from nepse_ray.pulls import IncompletePullError, OutputError, PullLimits, PullResult, Series
from nepse_ray.pulls.runner import pull_through
from nepse_ray.pulls.sinks import csv_safe, file_sink

FLOORSHEET = [Series("floorsheet", {}, key="contract_id", label="day", drift=True)]
LIMITS = PullLimits(size=100, window=3, round_delay=0.0)


def pull_to(out: Path, answer: Any, **kwargs: Any) -> PullResult:
    clock = FakeClock()
    return pull_through(FakeSource(answer, clock), FLOORSHEET, out=out, limits=LIMITS, clock=clock, **kwargs)


def test_a_streamed_pull_appears_under_its_name_only_when_complete(tmp_path: Path) -> None:
    listing = Listing(total=950)
    out = tmp_path / "day.parquet"
    seen_during: list[bool] = []

    result = pull_to(out, lambda e, p, a: listing.page(p["page"], p["size"]),
                     on_progress=lambda _: seen_during.append(out.exists()))  # fmt: skip

    assert not any(seen_during) and out.exists() and not (tmp_path / "day.parquet.partial").exists()
    assert result.path == out and result.table is None and result.complete
    table = pq.read_table(out)
    assert table.num_rows == 950 and table.schema.field("contract_id").type == pa.int64()
    assert result.to_arrow().column("contract_id")[0].as_py() == BASE + 949  # read back, newest first


def test_an_incomplete_pull_leaves_only_a_readable_partial_file(tmp_path: Path) -> None:
    listing = Listing(total=950)

    def answer(endpoint: str, params: dict[str, Any], attempt: int) -> PageBatch | Exception:
        return NepseServerError("502", endpoint=endpoint) if params["page"] == 4 else listing.page(params["page"], 100)

    out = tmp_path / "day.parquet"
    with pytest.raises(IncompletePullError) as caught:
        pull_to(out, answer)
    assert not out.exists()
    partial = caught.value.partial
    assert partial is not None and partial.path == tmp_path / "day.parquet.partial"
    assert pq.read_table(partial.path).num_rows == partial.rows == 850


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_an_interrupted_pull_leaves_no_file_at_all(tmp_path: Path, suffix: str) -> None:
    listing = Listing(total=950)
    calls = 0

    def interrupt(_: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull_to(tmp_path / f"day{suffix}", lambda e, p, a: listing.page(p["page"], 100), on_progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_csv_cells_that_would_run_as_formulas_are_escaped_and_numbers_kept(tmp_path: Path) -> None:
    names = pa.array(["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "plain", None]).dictionary_encode()
    batch = pa.RecordBatch.from_arrays([names, pa.array([-1.5, 2, 3, 4, 5, 6, 7], pa.float64())], names=["n", "v"])
    result = PullResult.of_table("security_list", pa.Table.from_batches([batch]))
    path = result.to_csv(tmp_path / "x.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["n"] for r in rows] == ["'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain", ""]
    assert rows[0]["v"] == "-1.5"
    assert csv_safe(batch).schema.field("n").type == pa.string()


def test_json_lines_write_dates_and_times_in_iso_form(tmp_path: Path) -> None:
    listing = Listing(total=120)
    result = pull_to(tmp_path / "day.jsonl", lambda e, p, a: listing.page(p["page"], 100))
    lines = (tmp_path / "day.jsonl").read_text().splitlines()
    assert len(lines) == result.rows == 120
    first = json.loads(lines[0])
    assert first["business_date"] == "2025-10-30" and isinstance(first["contract_id"], int)


def test_unwritable_and_unknown_outputs_are_named_errors(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("a", pa.int64())])
    with pytest.raises(OutputError, match=r"cannot write .*missing/x\.parquet"):
        file_sink(tmp_path / "missing" / "x.parquet", schema)
    with pytest.raises(OutputError, match=r"\.parquet, \.csv, \.jsonl"):
        file_sink(tmp_path / "x.xlsx", schema)
    with pytest.raises(OutputError):
        PullResult.of_table("security_list", pa.table({"a": [1]})).to_parquet(tmp_path / "nope" / "a.parquet")
