"""What ``nepse-ray watch`` runs: the market live in a terminal — the indices and the top movers, redrawn as the
pool's streams tick.

A :class:`Board` holds what the ``live_market`` and ``nepse_index`` streams said so far (a snapshot, then each
tick's changed rows); :func:`render` draws it as rich tables, every text from the site passed through
:func:`~nepse_ray.terminal.printable` into ``Text`` cells (no markup, no control character reaches the terminal);
:func:`watch` follows both streams and redraws. While the market is closed the board says when it opens and waits
(``until_close`` ends instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .nepse.payload import NEPAL_TZ
from .stream.feeds import FEEDS
from .stream.tick import MarketState, Tick
from .terminal import printable

if TYPE_CHECKING:
    from .pool.api import NepseWorkerAPI
    from .pool.subscription import Stream

#: Seconds between two redraws of the market's state while no tick arrives.
REDRAW_EVERY = 1.0


class Board:
    """The rows each feed holds now, the market's state and the time of the last tick."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[Hashable, dict[str, Any]]] = {"live_market": {}, "nepse_index": {}}
        self.market: MarketState | None = None
        self.updated: dt.datetime | None = None
        self.ticks = 0

    def apply(self, tick: Tick) -> None:
        """Take a tick in: a snapshot replaces the feed's rows, other ticks change and remove rows."""
        key = FEEDS[tick.feed].key
        rows = {} if tick.snapshot else self.rows[tick.feed]
        rows.update((key(row), row) for row in tick.rows)
        for gone in tick.removed:
            rows.pop(gone, None)
        self.rows[tick.feed] = rows
        self.updated = max(self.updated, tick.at) if self.updated is not None else tick.at
        self.ticks += 1


def render(board: Board, top: int = 10) -> RenderableType:
    """The board as a heading, the indices and the top gainers and losers by percentage change."""
    when = f"{board.updated.astimezone(NEPAL_TZ):%Y-%m-%d %H:%M:%S} Nepal time" if board.updated else "no tick yet"
    state = board.market.describe() if board.market is not None else "asking the site whether the market is open"
    heading = Text(f"NEPSE live: {state}; last tick {when} ({board.ticks} ticks)", style="bold")
    indices = Table(title="indices", title_justify="left")
    for column in ("index", "value", "change", "%"):
        indices.add_column(column, justify="left" if column == "index" else "right")
    for row in board.rows["nepse_index"].values():
        value = row.get("currentValue") if row.get("currentValue") is not None else row.get("close")
        indices.add_row(
            _text(row.get("index")), _number(value), _number(row.get("change")), _number(row.get("perChange"))
        )
    securities = list(board.rows["live_market"].values())
    changes = [row for row in securities if isinstance(row.get("percentageChange"), (int, float))]
    gainers = sorted((r for r in changes if r["percentageChange"] > 0), key=lambda r: -r["percentageChange"])[:top]
    losers = sorted((r for r in changes if r["percentageChange"] < 0), key=lambda r: r["percentageChange"])[:top]
    return Group(heading, indices, _movers("top gainers", gainers), _movers("top losers", losers))


def _movers(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("symbol", "last price", "%", "shares", "turnover"):
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for row in rows:
        table.add_row(
            _text(row.get("symbol")),
            _number(row.get("lastTradedPrice")),
            _number(row.get("percentageChange")),
            _number(row.get("totalTradeQuantity"), digits=0),
            _number(row.get("totalTradeValue"), digits=0),
        )
    return table


def _text(value: object) -> Text:
    """A value from the site as plain text, control characters escaped (never markup)."""
    return Text(printable("-" if value is None else str(value), newlines=False))


def _number(value: object, digits: int = 2) -> Text:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _text(value)
    return Text(f"{value:,.{digits}f}")


async def watch(api: NepseWorkerAPI, console: Console, *, interval: float, top: int, until_close: bool) -> None:
    """Follow the live market and the indices every ``interval`` seconds and keep the board drawn."""
    board = Board()
    streams = [api.stream(name, interval, until_close=until_close) for name in ("live_market", "nepse_index")]
    with Live(render(board, top), console=console, auto_refresh=False) as live:

        def draw() -> None:
            board.market = streams[0].market
            live.update(render(board, top), refresh=True)

        async def follow(stream: Stream) -> None:
            async for tick in stream:
                board.apply(tick)
                draw()
            draw()  # the market's state that ended the stream

        async def redraw() -> None:
            while True:
                await asyncio.sleep(REDRAW_EVERY)
                draw()

        redrawing = asyncio.get_running_loop().create_task(redraw())
        try:
            await asyncio.gather(*(follow(stream) for stream in streams))
        finally:
            redrawing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await redrawing
            for stream in streams:
                stream.close()
