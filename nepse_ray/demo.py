"""`nepse-ray demo`: a full day's floorsheet through the pool, against the embedded simulator.

It starts a NEPSE simulator on loopback, times one token fetching a few pages (the way every public client
works), then pulls the whole day through an auto-scaling pool of worker actors straight into
``floorsheet.parquet``, checks that every trade arrived exactly once and that no token broke the site's
2 requests/s limit, and prints the pool's stats, a summary and the day's top symbols by turnover.

With ``tls=True`` (``nepse-ray demo --tls``) the simulator serves HTTPS with the real site's flaw, a leaf
certificate whose intermediate it does not send (:mod:`nepse_ray.sim.tls`). The client and every worker verify it,
trusting only the simulator's private root, and complete the chain through the AIA URL as they would for
nepalstock.com; nothing turns verification off.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from rich.columns import Columns
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .nepse.client import NepseClient
from .pool.api import NepseWorkerAPI
from .pool.options import PoolOptions
from .pulls import Progress as PullProgress
from .pulls import PullResult, pull_floorsheet
from .sim import SimulatorProcess

TOP_SYMBOLS = 10


def run_demo(
    *,
    trades: int = 50_000,
    max_workers: int = 5,
    baseline_pages: int = 6,
    seed: int = 7,
    output: Path = Path("floorsheet.parquet"),
    console: Console | None = None,
    tls: bool = False,
) -> int:
    """Run the demo; returns a process exit code (0 when every trade arrived and no limit was broken)."""
    console = console or Console()
    tls_mode = "incomplete-chain" if tls else None
    # The strict limits the pool is measured against: 2 requests/s per token, burst 1, a 429 past it.
    with SimulatorProcess(seed=seed, trades=trades, tls=tls_mode, rate_limit=2.0, burst=1, on_excess="429") as sim:
        truth = sim.stats()
        console.print(
            f"[bold]NEPSE simulator[/] at {sim.base_url}: {truth['floorsheet_rows']:,} trades on "
            f"{truth['floorsheet_pages']} floorsheet pages, 2 requests/s allowed per token."
        )
        if sim.ca_bundle is not None:
            console.print(
                "TLS as on the real site: the server sends its certificate without the intermediate that signed it. "
                f"Verification on, trusting only the simulator's root ({sim.ca_bundle}); the chain is completed "
                f"through {sim.aia_url}.",
                highlight=False,
            )
        single_rate = _single_token_rate(sim.base_url, baseline_pages, sim.ca_bundle)
        console.print(f"One token (any public client): {single_rate:.2f} pages/s.")

        options = PoolOptions(
            base_url=sim.base_url, ca_bundle=sim.ca_bundle, min_workers=1, max_workers=max_workers, idle_timeout=5.0
        )
        api = NepseWorkerAPI(options)
        try:
            started = time.perf_counter()
            pull = _pull_with_progress(api, console, output)
            elapsed = time.perf_counter() - started
            stats = api.get_stats()
        finally:
            api.shutdown()
        after = sim.stats()
        if sim.ca_bundle is not None:
            console.print(
                f"TLS verified on every request; the intermediate was fetched through AIA {sim.aia_fetches()} times "
                "(once per process that connected: this one and each worker)."
            )

    pool_rate = pull.pages / elapsed
    console.print(str(stats), highlight=False)
    table = pull.to_arrow()
    summary = _summary(pull, truth["floorsheet_rows"], elapsed, pool_rate, single_rate, after)
    console.print(Columns([summary, _top_symbols(table)]))
    console.print(f"Wrote {pull.rows:,} rows to {output}.")
    unique = pc.count_distinct(table.column("contract_id")).as_py() == table.num_rows
    ok = pull.rows == truth["floorsheet_rows"] and unique and after["rate_limit_violations"] == 0
    console.print("[bold green]OK[/]" if ok else "[bold red]FAILED[/]: trades missing or limits broken")
    return 0 if ok else 1


def _single_token_rate(base_url: str, pages: int, ca_bundle: str | None) -> float:
    with NepseClient(base_url, ca_bundle=ca_bundle) as client:
        client.floorsheet(page=0)  # handshake and market id outside the timing
        started = time.perf_counter()
        for page in range(1, pages + 1):
            client.floorsheet(page=page)
        return pages / (time.perf_counter() - started)


def _pull_with_progress(api: NepseWorkerAPI, console: Console, output: Path) -> PullResult:
    columns = (TextColumn("floorsheet"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("pages", total=None)

        def on_progress(state: PullProgress) -> None:
            progress.update(task, completed=state.pages_done, total=state.pages_total)

        return pull_floorsheet(api, out=output, on_progress=on_progress)


def _top_symbols(trades: pa.Table) -> Table:
    """The day's most traded symbols by turnover."""
    by_symbol = trades.group_by("stock_symbol").aggregate([("contract_amount", "sum"), ("contract_id", "count")])
    top = by_symbol.sort_by([("contract_amount_sum", "descending")]).slice(0, TOP_SYMBOLS).to_pylist()
    table = Table(title=f"Top {TOP_SYMBOLS} symbols by turnover")
    for name, justify in (("symbol", "left"), ("turnover (Rs)", "right"), ("trades", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in top:
        table.add_row(str(row["stock_symbol"]), f"{row['contract_amount_sum']:,.0f}", f"{row['contract_id_count']:,}")
    return table


def _summary(
    pull: PullResult,
    expected_rows: int,
    elapsed: float,
    pool_rate: float,
    single_rate: float,
    sim_stats: dict[str, object],
) -> Table:
    table = Table(title="Full-day floorsheet through the pool", show_header=False)
    table.add_row("pages", f"{pull.pages}")
    table.add_row("trades received / expected", f"{pull.rows:,} / {expected_rows:,}")
    table.add_row("duplicates dropped", f"{pull.duplicates_dropped}")
    table.add_row("wall time", f"{elapsed:.1f} s")
    table.add_row("pool pages/s", f"{pool_rate:.2f} ({pool_rate / single_rate:.1f}x one token)")
    table.add_row("tokens used", f"{sim_stats['tokens_issued']}")
    table.add_row("per-token rate-limit violations", f"{sim_stats['rate_limit_violations']}")
    return table
