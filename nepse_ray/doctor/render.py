"""The doctor's report on a terminal (a rich table) and as JSON (``--json``)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .report import DoctorReport

_STYLE = {"ok": "green", "changed": "yellow", "broken": "bold red"}


def to_json(report: DoctorReport) -> str:
    """``{"verdict", "site", "version", "checks": [{"name", "status", "detail", "advice"}]}``."""
    return report.model_dump_json(indent=2)


def print_table(report: DoctorReport, console: Console) -> None:
    """One row per check, coloured by status, then the verdict. Site text is escaped: it is never markup."""
    table = Table(title=f"nepse-ray doctor: {escape(report.site)}", title_justify="left")
    for column in ("check", "status", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        style = _STYLE[check.status]
        table.add_row(
            escape(check.name), f"[{style}]{check.status}[/]", escape(check.detail), escape(check.advice or "-")
        )
    console.print(table)
    style = _STYLE[report.verdict]
    console.print(f"verdict: [{style}]{report.verdict}[/] (nepse-ray {escape(report.version)})")
