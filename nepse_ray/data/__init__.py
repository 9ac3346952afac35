"""NEPSE as Ray Data: a day's floorsheet, a day's prices and price histories as ``ray.data.Dataset``.

Read tasks fetch pages through a nepse-ray pool (the site's per-token limits hold however many tasks run), row
counts are exact before anything is read, and a read task that dies is read again without a row twice.

>>> from nepse_ray import NepseWorkerAPI                                            # doctest: +SKIP
>>> from nepse_ray.data import read_floorsheet                                      # doctest: +SKIP
>>> ds = read_floorsheet("2026-11-30", api=NepseWorkerAPI())                        # doctest: +SKIP
>>> ds.count()                                                                      # doctest: +SKIP
>>> ds.groupby("stock_symbol").sum("contract_amount").to_pandas()                   # doctest: +SKIP

``read`` (the functions people call), ``datasource`` (:class:`NepseDatasource`: the driver's plan and the read
tasks) and ``parts`` (pure: how a read is cut into tasks).
"""

from .datasource import NepseDatasource
from .read import DEFAULT_CONCURRENCY, default_pool, read_floorsheet, read_price_history, read_today_price

__all__ = [
    "DEFAULT_CONCURRENCY",
    "NepseDatasource",
    "default_pool",
    "read_floorsheet",
    "read_price_history",
    "read_today_price",
]
