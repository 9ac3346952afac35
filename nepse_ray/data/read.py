"""The reads people call: a day's floorsheet, a day's prices and price histories as ``ray.data.Dataset``.

Each builds a :class:`~nepse_ray.data.datasource.NepseDatasource` (arguments are checked, and a single listing's
page 0 read, before the function returns) and hands it to ``ray.data.read_datasource``; the pages are fetched when
the dataset is consumed. Dates are ``datetime.date`` or ``"YYYY-MM-DD"``.

Without ``api=`` a read uses the default pool, as a notebook or a ``ray job submit`` job finds it
(:func:`default_pool`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import ray
import ray.data

from nepse_ray.pool.api import NepseWorkerAPI, default_api
from nepse_ray.pool.lookup import PoolNotFoundError, find_pool, pool_options
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pulls.market import (
    FLOORSHEET_ORDER,
    PRICE_HISTORY_ORDER,
    TODAY_PRICE_ORDER,
    Day,
    floorsheet_series,
    history_series,
    security_ids,
    today_price_series,
)

from .datasource import NepseDatasource

if TYPE_CHECKING:
    from ray.data import Dataset

#: Read tasks at once. Each keeps a window of page requests submitted that can fill every slot of the pool, so one
#: task already keeps the pool busy; a second one covers the first's tail. More only wait on the pool's tokens
#: while each holds a CPU.
DEFAULT_CONCURRENCY = 2


def read_floorsheet(
    business_date: Day | None = None,
    *,
    api: NepseWorkerAPI | None = None,
    symbol: str | None = None,
    concurrency: int | None = DEFAULT_CONCURRENCY,
) -> Dataset:
    """Every trade of a day (default: the site's current day), each once, as a dataset; ``symbol`` keeps one
    security's trades. ``ds.count()`` is exact and reads nothing. Rows are in blocks sorted newest contract first.

    While the market is open, the dataset holds exactly the trades that existed when this function read page 0
    (newer trades are left for the next read). An unknown ``symbol`` raises
    :class:`~nepse_ray.pulls.errors.UnknownSymbolError` with the closest matches.
    """
    api = api or default_pool()
    filters = {} if symbol is None else {"stock_id": next(iter(security_ids(api, [symbol]).values()))}
    series = floorsheet_series(business_date, **filters)
    return _read(NepseDatasource(api, [series], FLOORSHEET_ORDER), concurrency)


def read_today_price(
    business_date: Day | None = None,
    *,
    api: NepseWorkerAPI | None = None,
    concurrency: int | None = DEFAULT_CONCURRENCY,
) -> Dataset:
    """The day's prices of every traded security (default: the site's current day); ``ds.count()`` is exact and
    reads nothing."""
    api = api or default_pool()
    return _read(NepseDatasource(api, [today_price_series(business_date)], TODAY_PRICE_ORDER), concurrency)


def read_price_history(
    symbols: Iterable[str] | None = None,
    start: Day | None = None,
    end: Day | None = None,
    *,
    api: NepseWorkerAPI | None = None,
    concurrency: int | None = DEFAULT_CONCURRENCY,
) -> Dataset:
    """Daily history of ``symbols`` (default: every security) between ``start`` and ``end``; rows carry
    ``security_id`` and ``symbol``. One symbol's history is read in parts and counted from its page 0, as a day
    is; several are read as whole histories, a group per read task, and ``ds.count()`` reads them (a count up
    front would cost one request per security).
    """
    api = api or default_pool()
    series = [history_series(symbol, sid, start, end) for symbol, sid in security_ids(api, symbols).items()]
    return _read(NepseDatasource(api, series, PRICE_HISTORY_ORDER), concurrency)


def default_pool() -> NepseWorkerAPI:
    """The pool of a read without ``api=``: the default pool (``nepse-ray`` in namespace ``nepse_ray``).

    This process joins Ray first if it has not (inside a ``ray job submit`` job, ``RAY_ADDRESS`` names the job's
    cluster; in a notebook without one, a local instance starts). If the default pool runs there (another driver,
    a notebook or a detached pool started it), the read joins it with the options it runs with, whatever its site
    and TLS settings. If it does not, :func:`~nepse_ray.pool.api.default_api` starts it with default options.
    """
    defaults = PoolOptions()
    if not ray.is_initialized():
        ray.init(namespace=defaults.namespace)
    try:
        coordinator = find_pool(defaults.pool_name, defaults.namespace)
    except PoolNotFoundError:
        return default_api()
    return NepseWorkerAPI(pool_options(coordinator))


def _read(source: NepseDatasource, concurrency: int | None) -> Dataset:
    # No more at once than there can be tasks: Ray Data warns about a limit the read cannot reach.
    tasks = source.most_tasks if concurrency is None else min(concurrency, source.most_tasks)
    dataset: Dataset = ray.data.read_datasource(source, concurrency=tasks)
    return dataset
