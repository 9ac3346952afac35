"""What a benchmark run reports: scenario results against their goals, the machine, JSON and a Markdown table.

Pure: no Ray, no timing. A scenario measures :class:`Value` figures; each :class:`Goal` names one of them and
checks it (``"<="``, ``">="`` or ``"<"`` a bound), so the verdict is computed here, never typed in by hand.

>>> goal = Goal("fraction_w5", ">=", 0.95, "at least 0.95 of the limit at W = 5")
>>> goal.met({"fraction_w5": Value(0.97, "")})
True
>>> verdict((goal,), {"fraction_w5": Value(0.9, "")})
'not met'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import operator
import os
import platform
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

Comparison = Literal["<=", ">=", "<"]
Verdict = Literal["met", "not met", "no goal", "failed"]

_COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}

START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"


@dataclasses.dataclass(frozen=True)
class Value:
    """One measured figure and its unit (``""`` for a ratio or a count)."""

    value: float
    unit: str

    def text(self) -> str:
        number = f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:.3g}"
        return f"{number} {self.unit}".strip()


@dataclasses.dataclass(frozen=True)
class Goal:
    """A figure's goal: ``values[metric] <op> bound``, with the text the issue states it in."""

    metric: str
    op: Comparison
    bound: float
    text: str

    def met(self, values: Mapping[str, Value]) -> bool:
        return _COMPARE[self.op](values[self.metric].value, self.bound)

    def check(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def verdict(goals: Sequence[Goal], values: Mapping[str, Value]) -> Verdict:
    """``met`` when every goal holds, ``not met`` when one fails, ``no goal`` when there is none to check."""
    if not goals:
        return "no goal"
    if any(goal.metric not in values for goal in goals):
        return "failed"
    return "met" if all(goal.met(values) for goal in goals) else "not met"


@dataclasses.dataclass(frozen=True)
class ScenarioResult:
    """What one scenario reports: its figures against its goals, with the parameters it ran with."""

    name: str
    description: str
    goals: tuple[Goal, ...]
    values: dict[str, Value]
    parameters: dict[str, Any]
    seconds: float
    error: str | None = None

    @property
    def verdict(self) -> Verdict:
        return "failed" if self.error else verdict(self.goals, self.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "goals": [
                {
                    "text": goal.text,
                    "check": goal.check(),
                    "met": goal.met(self.values) if goal.metric in self.values else None,
                }
                for goal in self.goals
            ],
            "values": {key: {"value": v.value, "unit": v.unit} for key, v in self.values.items()},
            "verdict": self.verdict,
            "parameters": self.parameters,
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


def machine() -> dict[str, Any]:
    """The machine the figures were measured on: CPUs, RAM, Python, Ray, OS."""
    import psutil
    import ray

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "os": f"{platform.system()} {platform.release()}",
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def report_json(results: Sequence[ScenarioResult], *, quick: bool, seconds: float, host: Mapping[str, Any]) -> str:
    document = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "seconds": round(seconds, 1),
        "machine": dict(host),
        "scenarios": [result.to_json() for result in results],
    }
    return json.dumps(document, indent=2)


def describe_machine(host: Mapping[str, Any]) -> str:
    """The machine, and how it ran when the report carries that (``host.py``; older reports do not)."""
    text = (
        f"{host['cpus']} CPUs ({host['cpu_model']}), {host['ram_gib']:g} GiB RAM, Python {host['python']}, "
        f"Ray {host['ray']}, {host['os']}"
    )
    if "loop_ms_start" in host:
        text += (
            f"; a fixed Python loop on one core took {host['loop_ms_start']:g} ms at the start and "
            f"{host['loop_ms_end']:g} ms at the end, {host['steal_pct']:g} % of CPU time stolen"
        )
    return text


def report_markdown(
    results: Sequence[ScenarioResult], *, quick: bool, seconds: float, host: Mapping[str, Any], command: str
) -> str:
    """The results table (scenario, figure, goal, met), the machine and the date above it."""
    today = dt.date.today().isoformat()
    mode = "quick run" if quick else "full run"
    lines = [
        f"`{command}` ({mode}, {seconds / 60:.1f} min) on {today}: {describe_machine(host)}.",
        "",
        "| scenario | figure | goal | met |",
        "|---|---|---|---|",
    ]
    for result in results:
        figure = "; ".join(f"{key} {value.text()}" for key, value in result.values.items())
        if result.error:
            figure = f"failed: {result.error}"
        goals = "; ".join(goal.text for goal in result.goals) or "—"
        lines.append(f"| {result.name} | {_cell(figure)} | {_cell(goals)} | {result.verdict} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def splice(document: str, table: str) -> str:
    """``document`` with the text between the bench markers replaced by ``table``.

    >>> splice("a\\n<!-- bench:start -->\\nold\\n<!-- bench:end -->\\nb", "new\\n")
    'a\\n<!-- bench:start -->\\nnew\\n<!-- bench:end -->\\nb'
    """
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"no {START_MARKER} ... {END_MARKER} block in the document; add both where the table goes")
    return document[: start + len(START_MARKER)] + "\n" + table + document[end:]
