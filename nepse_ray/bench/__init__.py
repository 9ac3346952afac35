"""The benchmark harness behind ``nepse-ray bench``: every figure the README claims, measured in one run.

A run starts its own simulator processes and a private local Ray instance (:mod:`.context`), measures each
scenario (:mod:`.registry`; one module per subject) against its goals, and writes a JSON report and a Markdown
table (:mod:`.report`). ``--quick`` runs every scenario with smaller parameters, recorded in the JSON.

    nepse-ray bench --quick --json out.json
    nepse-ray bench --only throughput scaling --markdown table.md
"""

from .registry import SCENARIOS
from .runner import run_bench

__all__ = ["SCENARIOS", "run_bench"]
