"""The benchmark harness: the scenario registry, the verdicts and reports (pure), the second driver some scenarios
time from, and ``nepse-ray bench --quick`` run in a subprocess on a few scenarios (it checks that the harness works
and reports, not the timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.bench import SCENARIOS
from nepse_ray.bench.host import HostCondition, HostWatch, loop_ms
from nepse_ray.bench.report import (
    END_MARKER,
    START_MARKER,
    Goal,
    ScenarioResult,
    Value,
    report_json,
    report_markdown,
    splice,
    verdict,
)
from nepse_ray.bench.second_driver import SecondDriver
from nepse_ray.cli import main
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator

HOST = {"cpus": 2, "cpu_model": "test CPU", "ram_gib": 4.0, "python": "3.11", "ray": "2.60.0", "os": "Linux"}
# Cheap scenarios that still start the harness's Ray, a simulator and a pool (the recovery scenario's kills are the
# pool tests' subject; here they cost a minute of the suite for nothing the harness does differently).
SUBPROCESS_SCENARIOS = ("protocol", "client-transport", "throughput")


def test_every_scenario_has_a_description_and_the_same_parameters_in_both_modes() -> None:
    assert len(SCENARIOS) >= 18
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name and scenario.description
        assert set(scenario.full) == set(scenario.quick), name


def test_the_issue_figures_each_have_a_machine_checked_goal() -> None:
    goals = {name: {goal.metric for goal in scenario.goals} for name, scenario in SCENARIOS.items()}
    assert {"fraction_w5", "violations"} <= goals["throughput"]
    assert goals["throughput-slow-site"] == {"fraction_w5", "min_gap"}  # the pacing as sent, not a forgiving leeway
    assert goals["speedup"] == {"speedup_w5"}
    assert goals["scaling"] == {"scale_up_s", "down_off_timeout_s"}
    assert goals["recovery"] == {"worker_kill_s", "coordinator_kill_s"}
    assert {"seconds", "driver_peak_over_idle"} <= goals["floorsheet-day"]
    assert goals["facade-overhead"] == {"cached_p50_ratio", "cached_pipelined_ratio"}
    assert goals["coordinator-backlog"] == {"stats_p99_queued", "rss_after_drain_over_rest"}
    assert "max_latency" in goals["interactive-during-pull"]
    assert {"cpu_total_spread", "cpu_total_packed", "cpu_packed_coordinator", "fraction_packed"} <= goals["scale-out"]
    assert goals["metrics-cost"] == {"slowdown"}


#: Issue #18's table: every way of calling the pool, with the goal each figure is judged against.
ISSUE_18 = {
    ("bulk-refs", "pull"): (">=", 0.95),
    ("bulk-refs", "arrow"): (">=", 0.95),
    ("bulk-refs", "model"): (">=", 0.90),
    ("driver-backlog", "same_driver_max"): ("<=", 0.1),
    ("driver-backlog", "second_driver_max"): ("<=", 0.1),
    ("recovery", "worker_kill_s"): ("<=", 1.0),
    ("facade-overhead", "cached_pipelined_ratio"): (">=", 0.5),
    ("coordinator-backlog", "rss_after_drain_over_rest"): ("<=", 1.25),
    ("scale-out", "cpu_total_spread"): ("<=", 15.0),
    ("scale-out", "cpu_total_packed"): ("<=", 15.0),
}


def test_the_goals_are_the_ones_issue_18_states() -> None:
    stated = {
        (name, goal.metric): (goal.op, goal.bound)
        for name, scenario in SCENARIOS.items()
        for goal in scenario.goals
        if (name, goal.metric) in ISSUE_18
    }
    assert stated == ISSUE_18


def test_the_figures_a_parameter_names_come_from_its_last_or_judged_entry() -> None:
    """bulk-refs names the figures of its last W by form alone; scale-out names its judged shapes spread and packed:
    the goals read the same names in both modes."""
    for quick in (True, False):
        assert SCENARIOS["bulk-refs"].parameters(quick)["workers"][-1] == (5 if quick else 15)
        judged = SCENARIOS["scale-out"].parameters(quick)["judged"]
        shapes = SCENARIOS["scale-out"].parameters(quick)["shapes"]
        assert set(judged) == {"spread", "packed"} and all(shape in shapes for shape in judged.values())
        (spread_tokens, one), (packed_workers, several) = judged["spread"], judged["packed"]
        assert one == 1 and several > 1 and spread_tokens == packed_workers * several


def test_a_verdict_follows_the_goals() -> None:
    goals = (Goal("rate", ">=", 0.95, "fast"), Goal("errors", "<=", 0, "clean"))
    assert verdict(goals, {"rate": Value(0.96, ""), "errors": Value(0, "")}) == "met"
    assert verdict(goals, {"rate": Value(0.94, ""), "errors": Value(0, "")}) == "not met"
    assert verdict(goals, {"rate": Value(0.96, "")}) == "failed"
    assert verdict((), {"rate": Value(1.0, "")}) == "no goal"
    assert Goal("p", "<", 5.0, "").met({"p": Value(5.0, "")}) is False


def _results() -> list[ScenarioResult]:
    goal = Goal("seconds", "<=", 44.0, "<= 44 s")
    return [
        ScenarioResult("day", "a day", (goal,), {"seconds": Value(43.1, "s")}, {"pages": 400}, 50.0),
        ScenarioResult("broken", "fails", (goal,), {}, {}, 1.0, error="RuntimeError: boom | pipe"),
    ]


def test_the_json_report_holds_goals_values_verdicts_and_the_machine() -> None:
    document = json.loads(report_json(_results(), quick=True, seconds=51.0, host=HOST))
    assert document["quick"] is True and document["machine"] == HOST and document["date"]
    day, broken = document["scenarios"]
    assert day["goals"] == [{"text": "<= 44 s", "check": "seconds <= 44", "met": True}]
    assert day["values"] == {"seconds": {"value": 43.1, "unit": "s"}} and day["parameters"] == {"pages": 400}
    assert day["verdict"] == "met" and broken["verdict"] == "failed" and broken["goals"][0]["met"] is None


def test_the_markdown_table_has_a_row_per_scenario_and_escapes_pipes() -> None:
    table = report_markdown(_results(), quick=False, seconds=120.0, host=HOST, command="nepse-ray bench")
    assert "2 CPUs (test CPU), 4 GiB RAM, Python 3.11, Ray 2.60.0, Linux" in table
    assert "| day | seconds 43.1 s | <= 44 s | met |" in table
    assert "boom \\| pipe" in table and table.rstrip().endswith("| failed |")


def test_the_machine_line_says_how_the_host_ran_when_the_report_knows() -> None:
    table = report_markdown(
        _results(),
        quick=False,
        seconds=1.0,
        host={**HOST, "loop_ms_start": 12.5, "loop_ms_end": 14.0, "steal_pct": 3.0},
        command="b",
    )
    assert "Linux; a fixed Python loop on one core took 12.5 ms at the start and 14 ms at the end, 3 % of" in table


def test_the_host_watch_times_the_loop_and_shares_stolen_time_between_start_and_end() -> None:
    condition = HostWatch().finish()
    assert condition.loop_ms_start > 0 and condition.loop_ms_end > 0 and 0 <= condition.steal_pct <= 100
    assert loop_ms(iterations=20_000, repeats=1) < loop_ms(iterations=400_000, repeats=1)  # it times the work done
    quiet = HostCondition.from_samples((3.0, 2.0), steal=(5.0, 5.0), total=(100.0, 200.0))
    assert quiet == HostCondition(loop_ms_start=3.0, loop_ms_end=2.0, steal_pct=0.0)
    assert HostCondition.from_samples((1.0, 1.0), steal=(0.0, 25.0), total=(0.0, 100.0)).steal_pct == 25.0
    assert HostCondition.from_samples((1.0, 1.0), steal=(0.0, 0.0), total=(7.0, 7.0)).steal_pct == 0.0


def test_splice_replaces_only_the_marked_block() -> None:
    readme = f"intro\n{START_MARKER}\nold table\n{END_MARKER}\noutro\n"
    assert splice(readme, "new\n") == f"intro\n{START_MARKER}\nnew\n{END_MARKER}\noutro\n"
    with pytest.raises(ValueError, match="bench:start"):
        splice("no markers", "new\n")


def test_an_unknown_scenario_is_refused_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "throughput", "nonsense"]) == 2
    assert "no scenario nonsense; choose from" in capsys.readouterr().err


@pytest.mark.ray
def test_a_second_driver_joins_the_pool_and_times_its_own_stats_calls(
    nepse_ray_cluster: dict[str, Any],
    nepse_sim_factory: Callable[..., Simulator],
    nepse_pool_factory: Callable[..., NepseWorkerAPI],
) -> None:
    api = nepse_pool_factory(nepse_sim_factory(trades=500, rate_limit=None), max_workers=1)
    with SecondDriver(nepse_ray_cluster["gcs_address"], api, calls=3) as other:
        first, again = other.time_stats(), other.time_stats()
        assert api.get_stats().total_workers == 1  # joined, not replaced: the pool is the same
    assert len(first) == len(again) == 3 and all(seconds > 0 for seconds in first + again)


@pytest.mark.ray
def test_a_quick_run_reports_every_chosen_scenario_with_goals_and_values(tmp_path: Path) -> None:
    out, table = tmp_path / "out.json", tmp_path / "table.md"
    env = {name: value for name, value in os.environ.items() if name != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "nepse_ray.cli", "bench", "--quick", "--json", str(out), "--markdown", str(table)]
    finished = subprocess.run(
        [*command, "--only", *SUBPROCESS_SCENARIOS], env=env, capture_output=True, text=True, timeout=280
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["quick"] is True and document["machine"]["cpus"] >= 1
    assert document["machine"]["loop_ms_start"] > 0 and document["machine"]["steal_pct"] >= 0
    scenarios = {scenario["name"]: scenario for scenario in document["scenarios"]}
    assert list(scenarios) == list(SUBPROCESS_SCENARIOS)
    for name, scenario in scenarios.items():
        assert scenario["error"] is None and scenario["parameters"] == SCENARIOS[name].parameters(quick=True)
        assert {goal["check"].split()[0] for goal in scenario["goals"]} <= set(scenario["values"])
        assert all(goal["met"] in (True, False) for goal in scenario["goals"])
        assert all(v["unit"] is not None and v["value"] >= 0 for v in scenario["values"].values())
        assert scenario["verdict"] in ("met", "not met")
        assert f"| {name} |" in table.read_text()
    assert "[3/3] throughput" in finished.stderr
