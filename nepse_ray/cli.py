"""The ``nepse-ray`` command.

Each subcommand is one :class:`Command` in :data:`COMMANDS`: a name, a help line, a function that adds its
arguments and one that runs it. Adding a subcommand is adding an entry.

    nepse-ray demo --trades 50000 --output floorsheet.parquet
    nepse-ray pull floorsheet --simulate --out day.parquet
    nepse-ray sync nepse-data --since 2026-11-01
    nepse-ray sync nepse-data --status
    nepse-ray record nepse-data --interval 5
    nepse-ray watch --simulate
    nepse-ray sim --port 8080 --seed 7 --fault-5xx 0.05
    nepse-ray sim --tls incomplete-chain
    nepse-ray sim --change wasm-scheme --change field-rename:live_market.symbol=symbolCode
    nepse-ray doctor --base-url http://127.0.0.1:8080 --json
    nepse-ray stats --address 10.0.0.5:6379 --pool nepse-ray --watch 2
    nepse-ray bench --quick --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .nepse.errors import NepseInputError
from .terminal import printable


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _sim_arguments(parser: argparse.ArgumentParser) -> None:
    from .sim.changes import CHANGE_NAMES
    from .sim.hostile import HOSTILE_NAMES
    from .sim.tls import TLS_MODES

    # Absent options stay absent (argument_default=SUPPRESS), so SimConfig's defaults and validation apply;
    # every dest is a SimConfig field.
    add = parser.add_argument
    add("--host", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, help="port to bind; 0 picks a free one (default 0)")
    add("--seed", type=int, metavar="N", help="seed of the market, salts and faults (default 0)")
    add("--trades", type=int, metavar="N", help="floorsheet rows of the served day (default 50000)")
    add("--market-id", dest="market_id", type=int, metavar="ID", help="the market-open id (default 80)")
    add("--business-date", dest="business_date", metavar="DATE", help="YYYY-MM-DD (default: latest Sun-Thu in NPT)")
    add("--market-open", dest="market_open", action="store_true", help="serve the day as in session")
    add("--live-trades-per-s", dest="live_trades_per_s", type=float, metavar="R", help="new trades/s (--market-open)")
    add("--past-days", dest="past_days", type=int, metavar="N", help="earlier trading days also served (default 0)")
    add("--max-page-size", dest="max_page_size", type=int, metavar="N", help="cap of the size query (default 500)")
    add("--token-ttl", dest="token_ttl", type=float, metavar="S", help="access-token lifetime (default 60)")
    add("--require-referer", dest="require_referer", action="store_true", help="403 to /api requests without Referer")
    add("--rate", dest="rate_limit", type=float, metavar="R", help="requests/s per token (default 2)")
    add("--burst", type=int, help="back-to-back requests allowed per token (default 10)")
    add("--leeway", dest="rate_leeway", type=float, metavar="S", help="arrival jitter forgiven (default 0.25)")
    add("--no-rate-limit", dest="rate_limit", action="store_const", const=None, help="no per-token limit")
    add("--address-rate", dest="address_rate_limit", type=float, metavar="R", help="requests/s per client address")
    add("--on-excess", dest="on_excess", choices=("site", "429", "drop", "empty"), help="over a limit (default site)")
    add("--excess-hold", dest="excess_hold", type=float, metavar="S", help="longest hold with site (default 2)")
    add("--security-floorsheet-rows", dest="security_floorsheet_rows", action="store_true",
        help="serve rows on security/floorsheet/{id} (the site: 403)")  # fmt: skip
    add("--honour-index-dates", dest="honour_index_dates", action="store_true",
        help="apply startDate/endDate to index history (the site ignores them)")  # fmt: skip
    add("--latency", dest="latency_ms", type=float, metavar="MS", help="added latency")
    add("--jitter", dest="jitter_ms", type=float, metavar="MS", help="uniform extra latency up to this")
    for kind in ("5xx", "drop", "403", "non-json", "empty", "early-expiry"):
        add(f"--fault-{kind}", dest="fault_" + kind.replace("-", "_"), type=float, metavar="RATE")
    add("--day-source", dest="day_source", choices=("nepal", "local", "asof"), help="day term of ids (default nepal)")
    add("--today-price-variant", dest="today_price_variant", choices=("b", "floorsheet"), help="(default b)")
    add("--tls", choices=TLS_MODES, help="serve HTTPS lacking the chain's intermediate (as on the site)")
    add("--hostile", action="append", choices=HOSTILE_NAMES, metavar="KIND",
        help="serve this attack on the client (repeatable): " + ", ".join(HOSTILE_NAMES))  # fmt: skip
    add("--change", dest="changes", action="append", metavar="NAME[:ARG]",
        help="change the site the way NEPSE has (repeatable): " + ", ".join(CHANGE_NAMES))  # fmt: skip


def _run_sim(args: argparse.Namespace) -> int:
    from .sim import SimConfig, serve

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "run")}
    try:
        config = SimConfig.model_validate(fields)
    except ValidationError as error:
        print(f"nepse-ray sim: invalid options: {error}", file=sys.stderr)
        return 2
    return serve(config)


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--base-url", dest="base_url", default="https://www.nepalstock.com", metavar="URL",
        help="the site (default https://www.nepalstock.com)")  # fmt: skip
    add("--json", dest="as_json", action="store_true", default=False, help="print the report as JSON")
    add("--all-endpoints", dest="all_endpoints", action="store_true", default=False,
        help="call every endpoint of the catalogue too (more than the quick set's 30 requests)")  # fmt: skip
    add("--ca-bundle", dest="ca_bundle", default=None, metavar="FILE", help="trust this CA file instead")


def _run_doctor(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .doctor import doctor
    from .doctor.render import print_table, to_json

    try:
        report = doctor(args.base_url, all_endpoints=args.all_endpoints, ca_bundle=args.ca_bundle)
    except NepseInputError as error:
        print(f"nepse-ray doctor: {error}", file=sys.stderr)
        return 2
    if args.as_json:
        print(to_json(report))
    else:
        print_table(report, Console())
    return report.exit_code


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--trades", type=int, default=50_000, metavar="N", help="trades of the simulated day (default 50000)")
    add("--max-workers", dest="max_workers", type=int, default=5, metavar="N", help="pool size limit (default 5)")
    add("--seed", type=int, default=7, metavar="N", help="seed of the simulated market (default 7)")
    add("--output", type=Path, default=Path("floorsheet.parquet"), metavar="FILE",
        help="where the day's trades go; .parquet, .csv or .jsonl (default floorsheet.parquet)")  # fmt: skip
    add("--tls", action="store_true", default=False, help="HTTPS with the site's incomplete chain, verified")


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.trades < 1 or not 1 <= args.max_workers <= 64:
        print("nepse-ray demo: --trades must be >= 1 and --max-workers between 1 and 64", file=sys.stderr)
        return 2
    return run_demo(trades=args.trades, max_workers=args.max_workers, seed=args.seed, output=args.output, tls=args.tls)


def _stats_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--address", default=None, metavar="ADDR", help="GCS HOST:PORT (default: RAY_ADDRESS, else this machine's)")
    add("--pool", dest="pool_name", default=None, metavar="NAME", help="the pool's name (default nepse-ray)")
    add("--namespace", default=None, metavar="NS", help="the pool's Ray namespace (default nepse_ray)")
    add("--watch", type=float, default=None, metavar="SECONDS", help="print again every SECONDS until Ctrl-C")
    add("--json", dest="as_json", action="store_true", default=False, help="JSON instead of tables (one line each)")


def _run_stats(args: argparse.Namespace) -> int:
    from .stats_command import run_stats

    if args.watch is not None and not args.watch > 0:
        print("nepse-ray stats: --watch must be a positive number of seconds", file=sys.stderr)
        return 2
    chosen = {name: getattr(args, name) for name in ("pool_name", "namespace") if getattr(args, name) is not None}
    return run_stats(address=args.address, watch=args.watch, as_json=args.as_json, **chosen)


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--quick", action="store_true", default=False, help="every scenario with smaller parameters (< 3 minutes)")
    add("--json", dest="json_path", type=Path, default=None, metavar="FILE", help="write the results as JSON")
    add("--markdown", dest="markdown_path", type=Path, default=None, metavar="FILE", help="write the results table")
    add("--readme", type=Path, default=None, metavar="FILE",
        help="replace the table between <!-- bench:start --> and <!-- bench:end --> in FILE")  # fmt: skip
    add("--only", nargs="+", default=None, metavar="NAME", help="run these scenarios only (default: all)")


def _run_bench(args: argparse.Namespace) -> int:
    from .bench import SCENARIOS, run_bench

    unknown = sorted(set(args.only or ()) - set(SCENARIOS))
    if unknown:
        print(f"nepse-ray bench: no scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    chosen = [name for name in SCENARIOS if name in args.only] if args.only else None
    results = run_bench(
        chosen, quick=args.quick, json_path=args.json_path, markdown_path=args.markdown_path, readme=args.readme
    )
    return 1 if any(result.error for result in results) else 0


PULLS = ("floorsheet", "today-price", "history", "securities", "companies", "indices")


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--base-url", dest="base_url", metavar="URL", help="the site (default https://www.nepalstock.com)"
    )
    where.add_argument("--simulate", action="store_true", help="start the embedded NEPSE simulator and use it")
    add("--address", metavar="ADDR", help="Ray cluster to join (default: RAY_ADDRESS, else a local instance)")
    add("--min-workers", dest="min_workers", type=int, default=1, metavar="N", help="(default 1)")
    add("--max-workers", dest="max_workers", type=int, default=5, metavar="N", help="(default 5)")
    add("--quiet", action="store_true", help="no progress and no summary, only errors")


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("what", choices=PULLS, help="what to pull")
    add("--out", type=Path, required=True, metavar="FILE", help="output; the format follows .parquet, .csv, .jsonl")
    add("--date", metavar="DATE", help="business date YYYY-MM-DD (floorsheet, today-price; default: the site's day)")
    add("--symbols", nargs="+", metavar="SYM", help="history: symbols (default: every security)")
    add("--start", metavar="DATE", help="history: first day")
    add("--end", metavar="DATE", help="history: last day")
    add("--allow-empty", dest="allow_empty", action="store_true",
        help="floorsheet, today-price: accept a day without trading (a future day, weekend, holiday)")  # fmt: skip
    _connection_arguments(parser)


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    from .dataset import TABLES

    add = parser.add_argument
    add("directory", type=Path, metavar="DIR", help="the dataset's directory (created if missing)")
    add("--since", metavar="DATE", help="first day to keep (default: 30 days before the site's day)")
    add("--tables", nargs="+", choices=TABLES, default=list(TABLES), metavar="TABLE", help=", ".join(TABLES))
    add("--retry-unavailable", dest="retry_unavailable", action="store_true", default=False,
        help="ask again for days and history the site did not give before")  # fmt: skip
    add("--verify", action="store_true", default=False, help="check every file's SHA-256, not only its size")
    add("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for another writer (default 0)")
    maintenance = parser.add_argument_group("maintenance (no fetching, no pool; any of them, in this order)")
    for flag, what in (
        ("--compact", "merge every table's small parts now"),
        ("--vacuum", "delete now the files no snapshot lists (readers of older snapshots may fail)"),
        ("--status", "print what the dataset holds and what the site would not give"),
    ):
        maintenance.add_argument(flag, action="store_true", default=False, help=what)
    _connection_arguments(parser)


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("directory", type=Path, metavar="DIR", help="the dataset's directory (created if missing)")
    add("--interval", type=float, default=5.0, metavar="SECONDS", help="seconds between two polls (default 5)")
    add("--every", type=float, default=60.0, metavar="SECONDS", help="commit a file at least this often (default 60)")
    add("--ticks", type=int, default=12, metavar="N", help="... and at least every N ticks (default 12)")
    add("--stop-after", dest="stop_after", type=float, default=None, metavar="SECONDS",
        help="stop at the first tick this long after the start (default: at the market's close)")  # fmt: skip
    add("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for another writer (default 0)")
    _connection_arguments(parser)


def _run_record(args: argparse.Namespace) -> int:
    from .connect import one_line_errors

    return one_line_errors("record", lambda: _record(args))


def _record(args: argparse.Namespace) -> int:
    from . import dataset
    from .dataset.lock import refuse_if_held

    if not args.wait:
        refuse_if_held(args.directory)  # before a pool starts for nothing
    with _connection(args, live=True) as connection:
        console = connection.console
        stream = connection.api.stream("live_market", args.interval, until_close=True)

        def committed(report: dataset.RecordReport) -> None:
            console.log(printable(f"{args.directory}: {report}"), markup=False, highlight=False)

        ticks = _until(stream, args.stop_after)
        try:
            report = dataset.record(
                ticks, args.directory, every=args.every, per_file=args.ticks, wait=args.wait, on_commit=committed
            )
        except KeyboardInterrupt:
            print("nepse-ray record: interrupted; the ticks before it are committed", file=sys.stderr)
            return 130
        if not report.ticks and stream.market is not None:
            console.print(printable(f"nothing to record: {stream.market.describe()}"), markup=False, highlight=False)
        _print_report(console, args.directory, report)
    return 0


def _until(ticks: Iterable[Any], seconds: float | None) -> Iterator[Any]:
    """``ticks`` up to the first one ``seconds`` after now (all of them when ``seconds`` is None)."""
    if seconds is None:
        return iter(ticks)
    deadline = time.monotonic() + seconds
    return itertools.takewhile(lambda _: time.monotonic() < deadline, ticks)


def _watch_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--interval", type=float, default=5.0, metavar="SECONDS", help="seconds between two polls (default 5)")
    add("--top", type=int, default=10, metavar="N", help="gainers and losers shown (default 10)")
    add("--until-close", dest="until_close", action="store_true", default=False,
        help="end at the market's close (default: wait for the next session)")  # fmt: skip
    _connection_arguments(parser)


def _run_watch(args: argparse.Namespace) -> int:
    from .connect import one_line_errors

    return one_line_errors("watch", lambda: _watch(args))


def _watch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .watch_command import watch

    if args.top < 1:
        raise NepseInputError("--top must be at least 1")
    with _connection(args, live=True) as connection:
        run = watch(connection.api, Console(), interval=args.interval, top=args.top, until_close=args.until_close)
        try:
            asyncio.run(run)
        except KeyboardInterrupt:
            return 130
    return 0


def _connection(args: argparse.Namespace, *, live: bool = False) -> Any:
    from .connect import Connection

    if not 1 <= args.min_workers <= args.max_workers <= 64:
        raise NepseInputError("--min-workers and --max-workers must satisfy 1 <= min <= max <= 64")
    return Connection(
        base_url=getattr(args, "base_url", None),
        simulate=getattr(args, "simulate", False),
        address=getattr(args, "address", None),
        min_workers=args.min_workers,
        max_workers=args.max_workers,
        quiet=getattr(args, "quiet", False),
        live=live,
    )


def _run_pull(args: argparse.Namespace) -> int:
    from .connect import one_line_errors

    return one_line_errors("pull", lambda: _pull(args))


def _pull(args: argparse.Namespace) -> int:
    from .pulls import market
    from .pulls.sinks import check_writable

    check_writable(args.out)
    day = _date(getattr(args, "date", None), "--date")
    start, end = _date(getattr(args, "start", None), "--start"), _date(getattr(args, "end", None), "--end")
    symbols = [s for text in getattr(args, "symbols", None) or () for s in text.split(",") if s] or None
    empty = bool(getattr(args, "allow_empty", False))
    with _connection(args) as connection:
        api, out = connection.api, args.out
        if args.what in ("securities", "companies"):
            result = getattr(market, args.what)(api, out=out)
        else:
            with connection.progress(args.what) as on_progress:
                kw: dict[str, Any] = {"out": out, "on_progress": on_progress}
                pulls: dict[str, Callable[[], Any]] = {
                    "floorsheet": lambda: market.pull_floorsheet(api, business_date=day, allow_empty=empty, **kw),
                    "today-price": lambda: market.today_prices(api, day, allow_empty=empty, **kw),
                    "history": lambda: market.price_history(api, symbols, start, end, **kw),
                    "indices": lambda: market.index_history(api, **kw),
                }
                result = pulls[args.what]()
        connection.console.print(printable(str(result)), highlight=False, markup=False)
    return 0


def _run_sync(args: argparse.Namespace) -> int:
    from .connect import one_line_errors

    return one_line_errors("sync", lambda: _sync(args))


def _sync(args: argparse.Namespace) -> int:
    from . import dataset
    from .dataset.lock import refuse_if_held

    if args.compact or args.vacuum or args.status:
        return _maintain(args)
    since = _date(getattr(args, "since", None), "--since")
    if not args.wait:
        refuse_if_held(args.directory)  # before a pool starts for nothing
    with _connection(args) as connection:
        console = connection.console
        with connection.progress("sync") as on_progress:
            try:
                report = dataset.sync(
                    connection.api,
                    args.directory,
                    since=since,
                    tables=args.tables,
                    retry_unavailable=args.retry_unavailable,
                    verify=args.verify,
                    wait=args.wait,
                    on_step=lambda step: console.log(printable(step), markup=False, highlight=False),
                    on_progress=on_progress,
                )
            except dataset.IncompleteSyncError as error:
                if error.report is not None:
                    _print_report(console, args.directory, error.report)
                raise
        _print_report(console, args.directory, report)
    return 0


def _print_report(console: Any, directory: Path, report: Any) -> None:
    console.print(printable(f"{directory}: {report}"), markup=False, highlight=False)
    for line in report.details():
        console.print(printable(f"  {line}"), markup=False, highlight=False)


def _maintain(args: argparse.Namespace) -> int:
    from . import dataset

    if args.compact:
        merged = dataset.compact(args.directory, wait=args.wait)
        done = ", ".join(f"{table}: {n} files merged" for table, n in merged.items())
        print(f"{args.directory}: compacted ({done})" if merged else f"{args.directory}: nothing to compact")
    if args.vacuum:
        notes = dataset.vacuum(args.directory, wait=args.wait)
        print(f"{args.directory}: " + ("; ".join(notes) if notes else "no file to remove"))
    if args.status:
        print(dataset.status(args.directory, verify=args.verify))
    return 0


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NepseInputError(f"{flag} {value!r} is not a date; use YYYY-MM-DD") from None


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "demo", "pull a full floorsheet day through the pool from an embedded simulator", _demo_arguments, _run_demo
        ),
        Command("pull", "pull a complete table into a Parquet, CSV or JSON-lines file", _pull_arguments, _run_pull),
        Command("sync", "bring a local partitioned Parquet dataset up to date", _sync_arguments, _run_sync),
        Command(
            "record", "append the live market's ticks to a dataset until the close", _record_arguments, _run_record
        ),
        Command("watch", "the indices and top movers live in the terminal", _watch_arguments, _run_watch),
        Command("sim", "run the NEPSE simulator until SIGINT/SIGTERM", _sim_arguments, _run_sim),
        Command("stats", "print a running pool's stats (table or JSON)", _stats_arguments, _run_stats),
        Command(
            "doctor",
            "check the site against what nepse-ray knows (exit 0 ok, 1 changed, 2 broken)",
            _doctor_arguments,
            _run_doctor,
        ),
        Command("bench", "measure every benchmark scenario against its goal", _bench_arguments, _run_bench),
    )
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nepse-ray", description="NEPSE market data through a pool of Ray actors.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        sub = subcommands.add_parser(
            command.name, help=command.help, description=command.help, argument_default=argparse.SUPPRESS
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
