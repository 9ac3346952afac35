"""The local NEPSE dataset: Parquet files listed by a manifest, kept in sync with the site, safe to read while a
sync writes it.

* :func:`sync` (:mod:`.sync`) fetches what the manifest lacks and commits it; :func:`record` (:mod:`.record`)
  appends a live-market stream's ticks; :func:`compact` and :func:`vacuum` keep the files few and the disk clean;
  :func:`status` says what the dataset holds and what the site would not give.
* :func:`open`, :func:`snapshot` and :func:`files` (:mod:`.read`) read the last committed snapshot.

How it holds together: :mod:`.layout` (tables, file names), :mod:`.manifest` (the one commit point),
:mod:`.store` (files on disk), :mod:`.lock` (one writer), :mod:`.writer` (a writer's run), :mod:`.plan` (what to
fetch, pure), :mod:`.compact`, :mod:`.crash` (fault points for tests).

>>> from nepse_ray import dataset
>>> dataset.TABLES[:2]
('securities', 'companies')
"""

from .compact import compact, vacuum
from .errors import DatasetCorruptError, DatasetLockedError, IncompleteSyncError, NotADatasetError
from .layout import RECORDED, TABLES
from .read import Snapshot, files, open, snapshot
from .record import RecordReport, record
from .report import SyncReport
from .status import DatasetStatus, status
from .sync import sync, trading_days

__all__ = [
    "RECORDED",
    "TABLES",
    "DatasetCorruptError",
    "DatasetLockedError",
    "DatasetStatus",
    "IncompleteSyncError",
    "NotADatasetError",
    "RecordReport",
    "Snapshot",
    "SyncReport",
    "compact",
    "files",
    "open",
    "record",
    "snapshot",
    "status",
    "sync",
    "trading_days",
    "vacuum",
]
