"""``nepse-ray record`` and ``nepse-ray watch``: the board drawn from ticks (escaping what the site sends), and both
commands end to end on the session's cluster."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from nepse_ray import dataset
from nepse_ray.cli import main
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.sim import Simulator
from nepse_ray.stream import MarketState, Tick
from nepse_ray.watch_command import Board, render

SimFactory = Callable[..., Simulator]
AT = dt.datetime(2026, 11, 30, 12, 0, 5, tzinfo=NEPAL_TZ)


def security(sid: int, symbol: str, change: float, price: float = 100.0) -> dict[str, Any]:
    return {"securityId": str(sid), "symbol": symbol, "lastTradedPrice": price, "percentageChange": change,
            "totalTradeQuantity": 1_000 * sid, "totalTradeValue": 1e5 * sid}  # fmt: skip


def drawn(board: Board, top: int = 2) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(render(board, top))
    return console.export_text()


def test_the_board_shows_the_indices_and_the_top_movers_as_the_ticks_change_them() -> None:
    board = Board()
    market = (security(1, "UP", 4.0), security(2, "MORE", 9.5), security(3, "DOWN", -3.0), security(4, "FLAT", 0.0))
    board.apply(Tick("live_market", None, 1, AT, market, snapshot=True))
    board.apply(Tick("nepse_index", None, 1, AT, ({"id": 58, "index": "NEPSE Index", "currentValue": 2712.55,
                                                   "change": 12.5, "perChange": 0.46},), snapshot=True))  # fmt: skip
    board.apply(Tick("live_market", None, 2, AT + dt.timedelta(seconds=5), (security(1, "UP", 12.0),)))
    board.market = MarketState(True)

    text = drawn(board)

    gainers, losers = text.split("top gainers")[1].split("top losers")
    assert gainers.index("UP") < gainers.index("MORE") and "DOWN" not in gainers and "FLAT" not in text
    assert "DOWN" in losers and "-3.00" in losers
    assert "NEPSE Index" in text and "2,712.55" in text and "12.00" in gainers
    assert "the market is open; last tick 2026-11-30 12:00:10 Nepal time (3 ticks)" in text


def test_what_the_site_sends_reaches_the_terminal_escaped_never_as_control_characters_or_markup() -> None:
    board = Board()
    board.apply(Tick("live_market", None, 1, AT, (security(1, "EVIL\x1b[2J[bold]", 5.0),), snapshot=True))
    board.apply(
        Tick("nepse_index", None, 1, AT, ({"id": 58, "index": "\u202eXEDNI", "currentValue": 1.0},), snapshot=True)
    )

    text = drawn(board)

    assert "\x1b" not in text and "\u202e" not in text
    assert "EVIL\\u001b[2J[bold]" in text and "\\u202eXEDNI" in text


def test_a_closed_day_says_when_the_market_opens() -> None:
    board = Board()
    board.market = MarketState(False, dt.datetime(2026, 12, 6, 11, 0, tzinfo=NEPAL_TZ))

    assert "the market is closed; it opens at 2026-12-06 11:00 Nepal time; last tick no tick yet" in drawn(board)


@pytest.mark.ray
def test_record_appends_the_live_market_through_a_pool_and_watch_ends_at_a_closed_markets_close(
    nepse_ray_cluster: dict[str, Any],
    nepse_sim_factory: SimFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps what is not a terminal at 80: the lines below hold tmp_path
    live = nepse_sim_factory(trades=500, market_open=True, live_trades_per_s=20.0, rate_limit=None)
    closed = nepse_sim_factory(trades=200, rate_limit=None)
    address = ["--address", nepse_ray_cluster["gcs_address"], "--max-workers", "1"]

    recorded = main(["record", str(tmp_path), "--interval", "1", "--stop-after", "4", "--ticks", "2",
                     "--base-url", live.base_url, *address])  # fmt: skip
    watched = main(["watch", "--until-close", "--base-url", closed.base_url, *address])

    assert (recorded, watched) == (0, 0)
    snap = dataset.snapshot(tmp_path)
    assert len(snap.files("live_market")) >= 2 and snap.rows("live_market") >= 200  # a snapshot, then changes
    output = capsys.readouterr()
    assert f"{tmp_path}: recorded " in output.err and "rows in" in output.err
    assert "the market is closed; it opens at" in output.out
    assert live.stats()["requests_per_endpoint"]["live_market"] <= 6  # one poll a second for about four seconds
