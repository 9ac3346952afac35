"""The ``nepse-ray`` command.

Each subcommand is one :class:`Command` in :data:`COMMANDS`: a name, a help line, a function that adds its
arguments and one that runs it. Adding a subcommand is adding an entry.

    nepse-ray demo --trades 50000 --output floorsheet.csv
    nepse-ray sim --port 8080 --seed 7 --fault-5xx 0.05
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _sim_arguments(parser: argparse.ArgumentParser) -> None:
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
    add("--no-referer-check", dest="require_referer", action="store_false", help="accept requests without Referer")
    add("--rate", dest="rate_limit", type=float, metavar="R", help="requests/s per token (default 2)")
    add("--burst", type=int, help="back-to-back requests allowed per token (default 1)")
    add("--leeway", dest="rate_leeway", type=float, metavar="S", help="arrival jitter forgiven (default 0.25)")
    add("--no-rate-limit", dest="rate_limit", action="store_const", const=None, help="no per-token limit")
    add("--address-rate", dest="address_rate_limit", type=float, metavar="R", help="requests/s per client address")
    add("--on-excess", dest="on_excess", choices=("429", "drop", "empty"), help="(default 429)")
    add("--latency", dest="latency_ms", type=float, metavar="MS", help="added latency")
    add("--jitter", dest="jitter_ms", type=float, metavar="MS", help="uniform extra latency up to this")
    for kind in ("5xx", "drop", "403", "non-json", "empty", "early-expiry"):
        add(f"--fault-{kind}", dest="fault_" + kind.replace("-", "_"), type=float, metavar="RATE")
    add("--day-source", dest="day_source", choices=("nepal", "local", "asof"), help="day term of ids (default nepal)")
    add("--today-price-variant", dest="today_price_variant", choices=("b", "floorsheet"), help="(default b)")


def _run_sim(args: argparse.Namespace) -> int:
    from .sim import SimConfig, serve

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "run")}
    try:
        config = SimConfig.model_validate(fields)
    except ValidationError as error:
        print(f"nepse-ray sim: invalid options: {error}", file=sys.stderr)
        return 2
    return serve(config)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--trades", type=int, default=50_000, metavar="N", help="trades of the simulated day (default 50000)")
    add("--max-workers", dest="max_workers", type=int, default=5, metavar="N", help="pool size limit (default 5)")
    add("--seed", type=int, default=7, metavar="N", help="seed of the simulated market (default 7)")
    add("--output", type=Path, default=Path("floorsheet.parquet"), metavar="FILE",
        help="where the day's trades go; .parquet, .csv or .jsonl (default floorsheet.parquet)")  # fmt: skip


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.trades < 1 or not 1 <= args.max_workers <= 64:
        print("nepse-ray demo: --trades must be >= 1 and --max-workers between 1 and 64", file=sys.stderr)
        return 2
    return run_demo(trades=args.trades, max_workers=args.max_workers, seed=args.seed, output=args.output)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "demo", "pull a full floorsheet day through the pool from an embedded simulator", _demo_arguments, _run_demo
        ),
        Command("sim", "run the NEPSE simulator until SIGINT/SIGTERM", _sim_arguments, _run_sim),
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
