"""The pulls people call: a day's floorsheet, today's prices, price history, securities, companies, indices.

Each returns a :class:`~nepse_ray.pulls.result.PullResult` (``out=`` streams the rows to a Parquet, CSV or
JSON-lines file instead of memory) or raises :class:`~nepse_ray.pulls.errors.IncompletePullError`. Dates are
``datetime.date`` or ``"YYYY-MM-DD"``.

A day's floorsheet or prices asked for a day without trading (after the site's latest day, a Friday or Saturday,
a holiday) raise :class:`~nepse_ray.pulls.errors.EmptyDayError`, which names the site's latest trading day and the
next trading day, rather than return an empty table that reads like a day without trades; ``allow_empty=True``
accepts such a day.

>>> from nepse_ray import NepseWorkerAPI                                           # doctest: +SKIP
>>> api = NepseWorkerAPI(max_workers=5)                                             # doctest: +SKIP
>>> pull_floorsheet(api, out="day.parquet").rows                                   # doctest: +SKIP
>>> price_history(api, ["NABIL", "NICA"], start="2026-01-01").to_pandas()          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from nepse_ray.nepse.endpoints import prepare
from nepse_ray.nepse.tables import rows_batch

from .engine import Progress, PullLimits, Series
from .errors import EmptyDayError, UnknownSymbolError
from .result import PullResult, SortKeys
from .runner import run_pull
from .sinks import write_table

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI

#: The index ids the site knows: 58 NEPSE, 57 Sensitive, 62 Float, 63 Sensitive Float, 51..67 sectors.
INDEX_IDS: tuple[int, ...] = tuple(range(51, 68))
#: Sunday to Thursday (Python's Monday is 0): the days NEPSE trades, holidays aside.
TRADING_WEEKDAYS = frozenset({6, 0, 1, 2, 3})

Day = dt.date | str
ProgressCallback = Callable[[Progress], None]

FLOORSHEET_ORDER: SortKeys = (("contract_id", "descending"),)
TODAY_PRICE_ORDER: SortKeys = (("security_id", "ascending"),)
PRICE_HISTORY_ORDER: SortKeys = (("security_id", "ascending"), ("business_date", "ascending"))
INDEX_HISTORY_ORDER: SortKeys = (("index_id", "ascending"), ("business_date", "ascending"))
LIST_ORDER: SortKeys = (("id", "ascending"),)


def pull_floorsheet(
    api: NepseWorkerAPI,
    *,
    business_date: Day | None = None,
    out: Path | str | None = None,
    limits: PullLimits | None = None,
    on_progress: ProgressCallback | None = None,
    allow_empty: bool = False,
    **filters: Any,
) -> PullResult:
    """Every trade of a day (default: the site's current day), each once, newest contract first.

    While the market is open, trades keep arriving on top and push rows to later pages; the pull returns exactly
    the trades that existed when it read page 0, re-reading pages where rows slid. ``filters`` are the endpoint's
    ``stock_id``, ``buyer_broker`` and ``seller_broker``. A day without trading raises :class:`EmptyDayError`
    unless ``allow_empty`` (with filters, only a day the site cannot have: no trades of one stock is an answer).
    """
    series = [floorsheet_series(business_date, **filters)]
    return _day_pull(api, series, business_date, FLOORSHEET_ORDER, out, limits, on_progress, allow_empty, filters)


def floorsheet_series(business_date: Day | None, **filters: Any) -> Series:
    """The listing of one day's trades, newest first (it grows on top while the market is open)."""
    params = _checked("floorsheet", {"business_date": business_date, **filters})
    label = str(business_date) if business_date is not None else "current day"
    return Series("floorsheet", params, key="contract_id", label=label, drift=True)


def today_prices(
    api: NepseWorkerAPI,
    date: Day | None = None,
    *,
    out: Path | str | None = None,
    limits: PullLimits | None = None,
    on_progress: ProgressCallback | None = None,
    allow_empty: bool = False,
) -> PullResult:
    """The day's prices of every traded security (default: the site's current day); a day without trading raises
    :class:`EmptyDayError` unless ``allow_empty``."""
    series = [today_price_series(date)]
    return _day_pull(api, series, date, TODAY_PRICE_ORDER, out, limits, on_progress, allow_empty, {})


def _day_pull(
    api: NepseWorkerAPI,
    series: list[Series],
    day: Day | None,
    sort: SortKeys,
    out: Path | str | None,
    limits: PullLimits | None,
    on_progress: ProgressCallback | None,
    allow_empty: bool,
    filters: Mapping[str, Any],
) -> PullResult:
    """Pull one day's listing; unless ``allow_empty``, refuse a day the site cannot have trades for before pulling,
    and one that came back empty after (a holiday), leaving no file behind."""
    asked = None if day is None else dt.date.fromisoformat(str(day))
    endpoint = series[0].endpoint
    if not allow_empty:
        _refuse_a_day_without_trading(api, endpoint, asked)
    result = run_pull(api, series, out=out, sort=sort, limits=limits, on_progress=on_progress)
    if allow_empty or result.rows or filters:
        return result
    if result.path is not None:
        result.path.unlink(missing_ok=True)
    latest = _latest_trading_day(api)
    why = "has no trades yet" if asked is None else "has no trades on the site (a holiday?)"
    raise EmptyDayError(endpoint, asked, why, latest, next_trading_day(asked or latest))


def _refuse_a_day_without_trading(api: NepseWorkerAPI, endpoint: str, day: dt.date | None) -> None:
    if day is None:
        return
    if day.weekday() not in TRADING_WEEKDAYS:
        latest = _latest_trading_day(api)
        raise EmptyDayError(endpoint, day, f"is a {day:%A}: NEPSE does not trade", latest, next_trading_day(day))
    latest = _latest_trading_day(api)
    if day > latest:
        raise EmptyDayError(endpoint, day, "has not been traded yet", latest, next_trading_day(latest))


def _latest_trading_day(api: NepseWorkerAPI) -> dt.date:
    """The site's latest session: the day of market-open's ``asOf`` (Nepal time)."""
    as_of: dt.datetime = api.market_open().as_of
    return as_of.date()


def next_trading_day(day: dt.date) -> dt.date:
    """The first Sunday to Thursday after ``day`` (the site's holidays are not known here)."""
    day += dt.timedelta(days=1)
    while day.weekday() not in TRADING_WEEKDAYS:
        day += dt.timedelta(days=1)
    return day


def today_price_series(date: Day | None) -> Series:
    """The listing of one day's prices, one row per traded security."""
    params = _checked("today_price", {"business_date": date})
    return Series("today_price", params, key="security_id", label=str(date) if date else "current day")


def price_history(
    api: NepseWorkerAPI,
    symbols: Iterable[str] | None = None,
    start: Day | None = None,
    end: Day | None = None,
    *,
    out: Path | str | None = None,
    limits: PullLimits | None = None,
    on_progress: ProgressCallback | None = None,
) -> PullResult:
    """Daily history of ``symbols`` (default: every security) between ``start`` and ``end``, all pages at once.

    Rows carry ``security_id`` and ``symbol``. An unknown symbol raises :class:`UnknownSymbolError` with close
    matches before anything is pulled.
    """
    series = [history_series(symbol, sid, start, end) for symbol, sid in security_ids(api, symbols).items()]
    return run_pull(api, series, out=out, sort=PRICE_HISTORY_ORDER, limits=limits, on_progress=on_progress)


def history_series(symbol: str, security_id: int, start: Day | None, end: Day | None) -> Series:
    """The listing of one security's daily history between ``start`` and ``end``, rows tagged with its symbol."""
    return Series(
        "security_price_history",
        _checked("security_price_history", {"security_id": security_id, "start_date": start, "end_date": end}),
        key="business_date",
        label=symbol,
        constants=(("security_id", security_id), ("symbol", symbol)),
    )


def index_history(
    api: NepseWorkerAPI,
    index_ids: Iterable[int] | None = None,
    *,
    out: Path | str | None = None,
    limits: PullLimits | None = None,
    on_progress: ProgressCallback | None = None,
) -> PullResult:
    """Daily history of the indices ``index_ids`` (default: every index, 51..67); rows carry ``index_id``."""
    series = [index_series(index_id) for index_id in (INDEX_IDS if index_ids is None else tuple(index_ids))]
    return run_pull(api, series, out=out, sort=INDEX_HISTORY_ORDER, limits=limits, on_progress=on_progress)


def index_series(index_id: int) -> Series:
    """The listing of one index's daily history, rows tagged with its id."""
    params = _checked("index_history", {"index_id": index_id})
    return Series("index_history", params, key="business_date", label=index_id, constants=(("index_id", index_id),))


def securities(api: NepseWorkerAPI, *, out: Path | str | None = None) -> PullResult:
    """Every non-delisted security: id (the ``security_id`` of every per-security call), symbol and name."""
    return _listed(api, "security_list", out)


def companies(api: NepseWorkerAPI, *, out: Path | str | None = None) -> PullResult:
    """Every listed company with its sector and instrument type."""
    return _listed(api, "company_list", out)


def security_ids(api: NepseWorkerAPI, symbols: Iterable[str] | None) -> dict[str, int]:
    """``symbol -> security id`` for ``symbols`` (every security when None); unknown ones raise."""
    table = securities(api).to_arrow()
    known = dict(zip(table.column("symbol").to_pylist(), table.column("id").to_pylist(), strict=True))
    if symbols is None:
        return known
    wanted = [symbol.strip().upper() for symbol in symbols]
    unknown = [symbol for symbol in wanted if symbol not in known]
    if unknown:
        raise UnknownSymbolError(unknown, known)
    return {symbol: known[symbol] for symbol in dict.fromkeys(wanted)}


def _listed(api: NepseWorkerAPI, endpoint: str, out: Path | str | None) -> PullResult:
    models: Sequence[Any] = getattr(api, endpoint)()
    batch = rows_batch(endpoint, [model.model_dump(mode="json", by_alias=True) for model in models])
    result = PullResult.of_table(endpoint, pa.Table.from_batches([batch]), sort=LIST_ORDER)
    if out is not None:
        result = dataclasses.replace(result, path=write_table(result.to_arrow(), out))
    return result


def _checked(endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the unset ones, checked against the catalogue now (a bad date fails before any call)."""
    present = {name: value for name, value in params.items() if value is not None}
    prepare(endpoint, present)
    return present
