"""The ``dataset-year`` benchmark scenario on a few days: it syncs its in-process market three ways and reports the
figures its goals judge (timing goals are judged by ``nepse-ray bench``, never here)."""

from __future__ import annotations

from typing import cast

from nepse_ray.bench import SCENARIOS
from nepse_ray.bench.context import BenchContext
from nepse_ray.bench.dataset import dataset_year


def test_a_short_year_reports_files_reads_and_the_fsync_ratio() -> None:
    scenario = SCENARIOS["dataset-year"]
    assert {goal.metric for goal in scenario.goals} == {"fsync_ratio", "history_files"}
    values = dataset_year(cast(BenchContext, None), {"days": 12, "securities": 60, "trades": 5})

    assert values["syncs"].value == 10  # the Sunday..Thursday days of 12 from a Sunday
    assert values["files"].value == 10 + 10 + values["history_files"].value + 2  # days, prices, history, lists
    # Each sync adds two price-history parts (two chunks of symbols) and one of the indices: past 16 price parts,
    # the ninth sync merges them, so the run keeps 3 of them and 10 index parts.
    assert (values["history_files"].value, values["history_files_uncompacted"].value) == (3 + 10, 3 * 10)
    assert {goal.metric for goal in scenario.goals} <= set(values)
    assert all(values[name].value > 0 for name in ("read", "fsync_ratio", "sync_per_day"))
