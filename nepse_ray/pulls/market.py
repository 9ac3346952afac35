"""The pulls people call: a day's floorsheet, today's prices, price history, securities, companies, indices.

Each returns a :class:`~nepse_ray.pulls.result.PullResult` (``out=`` streams the rows to a Parquet, CSV or
JSON-lines file instead of memory) or raises :class:`~nepse_ray.pulls.errors.IncompletePullError`. Dates are
``datetime.date`` or ``"YYYY-MM-DD"``.

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
from .errors import UnknownSymbolError
from .result import PullResult, SortKeys
from .runner import run_pull
from .sinks import write_table

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI

#: The index ids the site knows: 58 NEPSE, 57 Sensitive, 62 Float, 63 Sensitive Float, 51..67 sectors.
INDEX_IDS: tuple[int, ...] = tuple(range(51, 68))

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
    **filters: Any,
) -> PullResult:
    """Every trade of a day (default: the site's current day), each once, newest contract first.

    While the market is open, trades keep arriving on top and push rows to later pages; the pull returns exactly
    the trades that existed when it read page 0, re-reading pages where rows slid. ``filters`` are the endpoint's
    ``stock_id``, ``buyer_broker`` and ``seller_broker``.
    """
    series = [floorsheet_series(business_date, **filters)]
    return run_pull(api, series, out=out, sort=FLOORSHEET_ORDER, limits=limits, on_progress=on_progress)


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
) -> PullResult:
    """The day's prices of every traded security (default: the site's current day)."""
    series = [today_price_series(date)]
    return run_pull(api, series, out=out, sort=TODAY_PRICE_ORDER, limits=limits, on_progress=on_progress)


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
