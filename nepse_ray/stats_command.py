"""What ``nepse-ray stats`` runs: a running pool's :class:`PoolStats` in a shell, as a table or JSON, once or watched.

Joining the cluster, finding the pool and reading its stats belong to :mod:`nepse_ray.pool.lookup`; this module
renders them, and turns every failure into one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .pool import lookup
from .pool.errors import PoolError
from .pool.options import PoolOptions
from .pool.stats import PoolStats, WorkerStatus
from .terminal import printable

DEFAULT_POOL_NAME: str = PoolOptions.model_fields["pool_name"].default
DEFAULT_NAMESPACE: str = PoolOptions.model_fields["namespace"].default


def run_stats(
    *,
    address: str | None = None,
    pool_name: str = DEFAULT_POOL_NAME,
    namespace: str = DEFAULT_NAMESPACE,
    watch: float | None = None,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Print the stats of pool ``pool_name``; with ``watch``, again every ``watch`` seconds until Ctrl-C."""
    out = console or Console()
    try:
        lookup.join_cluster(address)
        try:
            coordinator = lookup.find_pool(pool_name, namespace)
            if as_json:
                _print_json(coordinator, watch, out)
            else:
                _print_tables(coordinator, watch, out)
        finally:
            lookup.leave_cluster()
    except PoolError as error:
        print(f"nepse-ray stats: {printable(str(error), newlines=False)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _print_json(coordinator: Any, watch: float | None, out: Console) -> None:
    """One indented document, or one compact document per line when watching (JSON lines)."""
    if watch is None:
        out.out(printable(lookup.pool_stats(coordinator).model_dump_json(indent=2)), highlight=False)
        return
    while True:
        out.out(printable(lookup.pool_stats(coordinator).model_dump_json()), highlight=False)
        time.sleep(watch)


def _print_tables(coordinator: Any, watch: float | None, out: Console) -> None:
    if watch is None:
        out.print(stats_tables(lookup.pool_stats(coordinator)))
        return
    with Live(console=out, auto_refresh=False) as live:
        while True:
            live.update(stats_tables(lookup.pool_stats(coordinator)), refresh=True)
            time.sleep(watch)


def stats_tables(stats: PoolStats) -> Group:
    """The pool's figures (one row per :class:`PoolStats` field, with its meaning) and one row per worker."""
    pool = Table(title=f"nepse-ray pool {stats.pool_name!r}", title_justify="left")
    for column in ("figure", "value", "meaning"):
        pool.add_column(column, justify="right" if column == "value" else "left")
    for name, field in PoolStats.model_fields.items():
        if name not in ("pool_name", "workers"):
            pool.add_row(Text(name), Text(_cell(getattr(stats, name))), Text(field.description or "", style="dim"))
    workers = Table(title="workers", title_justify="left")
    for name in WorkerStatus.model_fields:  # node ids are 56 hex digits: their start tells nodes apart
        workers.add_column(name, no_wrap=True, max_width=12 if name == "node_id" else None, overflow="ellipsis")
    for worker in stats.workers:
        workers.add_row(*(Text(_cell(getattr(worker, name))) for name in WorkerStatus.model_fields))
    return Group(pool, workers)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return printable(", ".join(f"{key}={count}" for key, count in sorted(value.items()))) or "-"
    return printable(str(value))
