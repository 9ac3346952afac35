"""nepse-ray: NEPSE market data through an auto-scaling pool of Ray actors.

>>> from nepse_ray import NepseWorkerAPI          # doctest: +SKIP
>>> api = NepseWorkerAPI(max_workers=5)           # doctest: +SKIP
>>> api.floorsheet(page=0).floorsheets.total_pages  # doctest: +SKIP

The protocol core (``NepseClient`` and the errors) does not import Ray; the pool names load Ray on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .nepse.client import NepseClient
from .nepse.errors import (
    NepseAuthError,
    NepseClientRequestError,
    NepseConnectionError,
    NepseEmptyPageError,
    NepseError,
    NepseForbiddenError,
    NepseHandshakeError,
    NepseInputError,
    NepseInvalidResponseError,
    NepsePathNotAllowedError,
    NepseRateLimitedError,
    NepseServerError,
    NepseTimeoutError,
)

if TYPE_CHECKING:
    from .pool.api import NepseWorkerAPI, default_api, nepse_worker_api
    from .pool.errors import (
        PoolBusyError,
        PoolConfigError,
        PoolError,
        PoolShutdownError,
        TaskTimeoutError,
        WorkerLostError,
    )
    from .pool.options import PoolOptions
    from .pool.stats import PoolStats
    from .pulls import FloorsheetPull, pull_floorsheet

_LAZY = {
    "NepseWorkerAPI": "nepse_ray.pool.api",
    "default_api": "nepse_ray.pool.api",
    "nepse_worker_api": "nepse_ray.pool.api",
    "PoolOptions": "nepse_ray.pool.options",
    "PoolStats": "nepse_ray.pool.stats",
    "PoolBusyError": "nepse_ray.pool.errors",
    "PoolConfigError": "nepse_ray.pool.errors",
    "PoolError": "nepse_ray.pool.errors",
    "PoolShutdownError": "nepse_ray.pool.errors",
    "TaskTimeoutError": "nepse_ray.pool.errors",
    "WorkerLostError": "nepse_ray.pool.errors",
    "FloorsheetPull": "nepse_ray.pulls",
    "pull_floorsheet": "nepse_ray.pulls",
}

__all__ = [
    "FloorsheetPull",
    "NepseAuthError",
    "NepseClient",
    "NepseClientRequestError",
    "NepseConnectionError",
    "NepseEmptyPageError",
    "NepseError",
    "NepseForbiddenError",
    "NepseHandshakeError",
    "NepseInputError",
    "NepseInvalidResponseError",
    "NepsePathNotAllowedError",
    "NepseRateLimitedError",
    "NepseServerError",
    "NepseTimeoutError",
    "NepseWorkerAPI",
    "PoolBusyError",
    "PoolConfigError",
    "PoolError",
    "PoolOptions",
    "PoolShutdownError",
    "PoolStats",
    "TaskTimeoutError",
    "WorkerLostError",
    "default_api",
    "nepse_worker_api",
    "pull_floorsheet",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nepse_ray' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
