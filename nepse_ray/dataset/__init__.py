"""The local NEPSE dataset: hive-partitioned Parquet files kept in sync with the site (:mod:`.sync`).

>>> from nepse_ray import dataset
>>> dataset.TABLES[:2]
('securities', 'companies')
"""

from .sync import TABLES, SyncReport, open, sync, trading_days

__all__ = ["TABLES", "SyncReport", "open", "sync", "trading_days"]
