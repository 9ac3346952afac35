"""nepse-ray: NEPSE market data through an auto-scaling pool of Ray actors.

>>> from nepse_ray import NepseWorkerAPI          # doctest: +SKIP
>>> api = NepseWorkerAPI(max_workers=5)           # doctest: +SKIP
>>> api.floorsheet(page=0).floorsheets.total_pages  # doctest: +SKIP

The protocol core (``NepseClient`` and the errors) does not import Ray; the pool names load Ray on first use, and
the ``read_*`` names (Ray Data sources, :mod:`nepse_ray.data`) load Ray Data.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .nepse.client import NepseClient
from .nepse.errors import (
    NepseAuthError,
    NepseCertificateError,
    NepseClientRequestError,
    NepseConnectionError,
    NepseContentEncodingError,
    NepseDeadlineError,
    NepseDecoderError,
    NepseEmptyPageError,
    NepseError,
    NepseForbiddenError,
    NepseHandshakeError,
    NepseHeaderValueError,
    NepseInputError,
    NepseInvalidResponseError,
    NepsePathNotAllowedError,
    NepseRateLimitedError,
    NepseResponseError,
    NepseResponseTooLargeError,
    NepseSchemaError,
    NepseServerError,
    NepseStatusError,
    NepseTimeoutError,
    NepseTransportError,
    PagingError,
)

if TYPE_CHECKING:
    from .data import read_floorsheet, read_price_history, read_today_price
    from .dataset.errors import DatasetCorruptError, DatasetLockedError, IncompleteSyncError, NotADatasetError
    from .doctor import DoctorReport, doctor
    from .pool.api import NepseWorkerAPI, default_api, nepse_worker_api
    from .pool.errors import (
        PoolBusyError,
        PoolConfigError,
        PoolError,
        PoolRouteError,
        PoolShutdownError,
        TaskTimeoutError,
        WorkerLostError,
    )
    from .pool.lookup import ClusterNotFoundError, PoolNotFoundError
    from .pool.options import PoolOptions
    from .pool.stats import PoolStats
    from .pool.subscription import Stream
    from .pulls import (
        EmptyDayError,
        IncompletePullError,
        OutputError,
        PullResult,
        PullTooLargeError,
        UnknownSymbolError,
        companies,
        index_history,
        price_history,
        pull_floorsheet,
        securities,
        today_prices,
    )
    from .stream.tick import MarketState, Tick

_LAZY = {
    "DoctorReport": "nepse_ray.doctor",
    "doctor": "nepse_ray.doctor",
    "NepseWorkerAPI": "nepse_ray.pool.api",
    "default_api": "nepse_ray.pool.api",
    "nepse_worker_api": "nepse_ray.pool.api",
    "PoolOptions": "nepse_ray.pool.options",
    "PoolStats": "nepse_ray.pool.stats",
    "Stream": "nepse_ray.pool.subscription",
    "MarketState": "nepse_ray.stream.tick",
    "Tick": "nepse_ray.stream.tick",
    "PoolBusyError": "nepse_ray.pool.errors",
    "PoolConfigError": "nepse_ray.pool.errors",
    "PoolError": "nepse_ray.pool.errors",
    "PoolRouteError": "nepse_ray.pool.errors",
    "PoolShutdownError": "nepse_ray.pool.errors",
    "TaskTimeoutError": "nepse_ray.pool.errors",
    "WorkerLostError": "nepse_ray.pool.errors",
    "ClusterNotFoundError": "nepse_ray.pool.lookup",
    "DatasetCorruptError": "nepse_ray.dataset.errors",
    "DatasetLockedError": "nepse_ray.dataset.errors",
    "IncompleteSyncError": "nepse_ray.dataset.errors",
    "NotADatasetError": "nepse_ray.dataset.errors",
    "PoolNotFoundError": "nepse_ray.pool.lookup",
    "EmptyDayError": "nepse_ray.pulls",
    "OutputError": "nepse_ray.pulls",
    "PullTooLargeError": "nepse_ray.pulls",
    "IncompletePullError": "nepse_ray.pulls",
    "PullResult": "nepse_ray.pulls",
    "UnknownSymbolError": "nepse_ray.pulls",
    "companies": "nepse_ray.pulls",
    "index_history": "nepse_ray.pulls",
    "price_history": "nepse_ray.pulls",
    "pull_floorsheet": "nepse_ray.pulls",
    "securities": "nepse_ray.pulls",
    "today_prices": "nepse_ray.pulls",
    "read_floorsheet": "nepse_ray.data",
    "read_price_history": "nepse_ray.data",
    "read_today_price": "nepse_ray.data",
}

__all__ = [
    "ClusterNotFoundError",
    "DatasetCorruptError",
    "DatasetLockedError",
    "DoctorReport",
    "EmptyDayError",
    "IncompletePullError",
    "IncompleteSyncError",
    "MarketState",
    "NepseAuthError",
    "NepseCertificateError",
    "NepseClient",
    "NepseClientRequestError",
    "NepseConnectionError",
    "NepseContentEncodingError",
    "NepseDeadlineError",
    "NepseDecoderError",
    "NepseEmptyPageError",
    "NepseError",
    "NepseForbiddenError",
    "NepseHandshakeError",
    "NepseHeaderValueError",
    "NepseInputError",
    "NepseInvalidResponseError",
    "NepsePathNotAllowedError",
    "NepseRateLimitedError",
    "NepseResponseError",
    "NepseResponseTooLargeError",
    "NepseSchemaError",
    "NepseServerError",
    "NepseStatusError",
    "NepseTimeoutError",
    "NepseTransportError",
    "NepseWorkerAPI",
    "NotADatasetError",
    "OutputError",
    "PagingError",
    "PoolBusyError",
    "PoolConfigError",
    "PoolError",
    "PoolNotFoundError",
    "PoolOptions",
    "PoolRouteError",
    "PoolShutdownError",
    "PoolStats",
    "PullResult",
    "PullTooLargeError",
    "Stream",
    "TaskTimeoutError",
    "Tick",
    "UnknownSymbolError",
    "WorkerLostError",
    "companies",
    "default_api",
    "doctor",
    "index_history",
    "nepse_worker_api",
    "price_history",
    "pull_floorsheet",
    "read_floorsheet",
    "read_price_history",
    "read_today_price",
    "securities",
    "today_prices",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nepse_ray' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
