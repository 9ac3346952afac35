"""One benchmark run: the context up, each chosen scenario measured (a failing one is reported, not fatal), the
JSON and Markdown written, and the README's table replaced when asked."""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .context import BenchContext
from .host import HostWatch
from .registry import SCENARIOS
from .report import ScenarioResult, machine, report_json, report_markdown, splice


def run_scenarios(names: Sequence[str], *, quick: bool, log: TextIO) -> list[ScenarioResult]:
    results = []
    with BenchContext() as context:
        for number, name in enumerate(names, 1):
            scenario = SCENARIOS[name]
            parameters = scenario.parameters(quick)
            print(f"[{number}/{len(names)}] {name}: {scenario.description}", file=log, flush=True)
            started = time.perf_counter()
            try:
                values, error = scenario.measure(context, parameters), None
            except Exception as failure:  # reported in the results; the other scenarios still run
                traceback.print_exc(file=log)
                values, error = {}, f"{type(failure).__name__}: {failure}"
            result = ScenarioResult(
                name, scenario.description, scenario.goals, values, parameters, time.perf_counter() - started, error
            )
            figures = ", ".join(f"{key} {value.text()}" for key, value in values.items()) or error
            print(f"    {result.seconds:.1f} s, {result.verdict}: {figures}", file=log, flush=True)
            results.append(result)
    return results


def run_bench(
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    json_path: Path | None = None,
    markdown_path: Path | None = None,
    readme: Path | None = None,
    log: TextIO = sys.stderr,
) -> list[ScenarioResult]:
    """Measure ``names`` (default: every scenario) and write the reports asked for."""
    started, watch = time.perf_counter(), HostWatch()
    results = run_scenarios(list(names or SCENARIOS), quick=quick, log=log)
    seconds = time.perf_counter() - started
    host = {**machine(), **dataclasses.asdict(watch.finish())}
    command = "nepse-ray bench" + (" --quick" if quick else "")
    table = report_markdown(results, quick=quick, seconds=seconds, host=host, command=command)
    if json_path is not None:
        json_path.write_text(report_json(results, quick=quick, seconds=seconds, host=host) + "\n")
    if markdown_path is not None:
        markdown_path.write_text(table)
    if readme is not None:
        readme.write_text(splice(readme.read_text(), table))
    print(f"\n{table}\n{len(results)} scenarios in {seconds:.0f} s", file=log)
    return results
