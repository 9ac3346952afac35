"""The doctor's report on a terminal (a rich table) and as JSON (``--json``)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..terminal import printable
from .report import DoctorReport

_STYLE = {"ok": "green", "changed": "yellow", "broken": "bold red"}


def to_json(report: DoctorReport) -> str:
    """``{"verdict", "site", "version", "checks": [{"name", "status", "detail", "advice"}]}``."""
    return report.model_dump_json(indent=2)


def print_table(report: DoctorReport, console: Console) -> None:
    """One row per check, coloured by status, then the verdict. Text is escaped: never markup, never a control
    sequence (a field name in a detail comes from the site)."""
    table = Table(title=f"nepse-ray doctor: {_safe(report.site)}", title_justify="left")
    for column in ("check", "status", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        style = _STYLE[check.status]
        table.add_row(_safe(check.name), f"[{style}]{check.status}[/]", _safe(check.detail), _safe(check.advice or "-"))
    console.print(table)
    style = _STYLE[report.verdict]
    console.print(f"verdict: [{style}]{report.verdict}[/] (nepse-ray {escape(report.version)})")


def _safe(text: str) -> str:
    return escape(printable(text, newlines=False))
