"""``PoolOptions``: every knob of the worker pool, validated before anything starts.

Defaults follow the design being ported (1-5 workers, 30 s idle timeout, 60 s task timeout, 3 retries, scale up at
80 % busy). Durations are in seconds. Invalid values raise ``pydantic.ValidationError`` naming the field::

    >>> options = PoolOptions(max_workers=3, task_timeout=45.0)
    >>> options.client_kwargs()["rate"]
    2.0

The ``logger`` is driver-side only: it is left out of ``model_dump()`` and of :meth:`PoolOptions.for_actors`, the copy
that gets pickled into Ray actors.

``base_url`` is checked as the workers' clients check it (no credentials, no plain ``http://`` to another machine
unless ``allow_insecure_http``), and a ``ValidationError`` never holds the values it was given: a URL with a
password in it must not reach a log through an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from nepse_ray.nepse.client import normalise_base_url
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.transport import DEFAULT_MAX_BODY_BYTES, DEFAULT_TOTAL_TIMEOUT
from nepse_ray.pool.errors import PoolConfigError

LogLevel = Literal["log", "warn", "error"]

_DEFAULT_LOGGER_NAME = "nepse_ray.pool"
_LOGGER_METHODS: tuple[LogLevel, ...] = ("log", "warn", "error")
_POOL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class PoolOptions(BaseModel):
    """Configuration of a NEPSE worker pool (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)

    # Fleet size and scaling.
    min_workers: int = Field(default=1, ge=1, description="Workers kept alive even when idle.")
    max_workers: int = Field(default=5, ge=1, le=64, description="Upper bound on worker actors.")
    idle_timeout: float = Field(default=30.0, ge=0, description="Seconds a worker may idle before it is retired.")
    scaling_threshold: float = Field(default=0.8, gt=0, le=1, description="Busy fraction that triggers a scale-up.")
    scale_interval: float = Field(default=0.25, gt=0, description="Seconds between the coordinator's scaling ticks.")
    upscale_delay: float = Field(default=0.0, ge=0, description="Seconds the scale-up condition must hold.")
    downscale_delay: float = Field(default=0.0, ge=0, description="Seconds the scale-down condition must hold.")

    # Tasks and retries.
    task_timeout: float = Field(default=60.0, gt=0, description="Seconds one attempt of a request may take.")
    max_retries: int = Field(default=3, ge=0, description="Retries after the first attempt of a retryable failure.")
    backoff_base: float = Field(default=0.5, gt=0, description="First retry's maximum delay in seconds.")
    backoff_cap: float = Field(default=10.0, gt=0, description="Ceiling of any retry delay in seconds.")
    max_retry_after: float = Field(
        default=60.0, ge=0, description="Longest Retry-After honoured; a longer one fails the request at once."
    )

    # Queues, shared results and shutdown.
    max_queued: int = Field(
        default=2_000,
        ge=1,
        le=100_000,
        description="Bulk requests the pool holds at once (waiting, running or retrying); more get PoolBusyError.",
    )
    driver_window: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="Bulk calls one facade has at the coordinator at once; more wait in the driver for earlier ones.",
    )
    coalesce: bool = Field(default=True, description="Identical requests in flight share one HTTP call.")
    cache_max_bytes: int = Field(
        default=128 * 2**20, ge=0, description="Bytes of answers the result cache keeps (0 turns the cache off)."
    )
    cache_ttl: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=True)]] = Field(
        default_factory=dict,
        description="Seconds to reuse answers, by endpoint, replacing the default rules (0: never, inf: for good).",
    )
    replica: bool = Field(
        default=True,
        description="Give repeated reads of small cached answers from the pool's replica actor (one more process), "
        "not the coordinator.",
    )
    drain_timeout: float = Field(
        default=60.0, ge=0, description="Seconds shutdown(drain=True) waits for accepted requests to finish."
    )

    # Workers.
    standby: bool = Field(
        default=False,
        description="Keep one more worker started, proved and idle while fewer than max_workers serve: a lost "
        "worker's requests go on there at once (one more process and token).",
    )
    allow_insecure_http: bool = Field(
        default=False, description="Accept a plain http:// base_url for another machine (the token travels in clear)."
    )
    base_url: str = Field(default="https://www.nepalstock.com", description="NEPSE site root (http or https).")
    rate_per_token: float = Field(default=2.0, gt=0, description="Requests per second allowed per worker token.")
    burst: int = Field(default=1, ge=1, description="Token-bucket burst per worker.")
    inflight_per_worker: int = Field(default=2, ge=1, le=16, description="Concurrent requests per worker token.")
    tokens_per_worker: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Tokens one worker actor holds, each its own NEPSE client and rate limiter: one process per "
        "several tokens costs less CPU than one per token (see the README's scaling-out section).",
    )
    max_restarts: int = Field(default=3, ge=-1, description="Ray restarts of a crashed worker (-1 = forever).")
    pool_rate_cap: float | None = Field(default=None, gt=0, description="Pool-wide requests/s ceiling, if any.")
    stream_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Share of one token's rate (rate_per_token) the pool's live streams may take together while bulk "
        "work runs; their polls wait for it then. At 0.1 a pull keeps >= 90 % of its rate even on a single token.",
    )

    # Ray placement.
    pool_name: str = Field(default="nepse-ray", min_length=1, description="Prefix of the pool's actor names.")
    namespace: str = Field(default="nepse_ray", min_length=1, description="Ray namespace of the pool's actors.")
    detached: bool = Field(default=False, description="Whether the pool's actors outlive the driver.")

    # NepseClient options, passed to every worker.
    user_agent: str | None = None
    verify: bool = True
    ca_bundle: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    total_timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds one HTTP attempt may take in all, below task_timeout; by default 45 s, or three quarters "
        "of a shorter task_timeout.",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1, description="Largest response body accepted, after decompression."
    )

    # Operations.
    metrics: bool = Field(default=True, description="Export the pool's Ray metrics (Prometheus, Grafana).")

    # Driver-side only: never dumped, never shipped to actors.
    logger: object | None = Field(default=None, exclude=True, repr=False)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str, info: ValidationInfo) -> str:
        """The workers' clients refuse what :func:`normalise_base_url` refuses: refuse it before anything starts."""
        return normalise_base_url(value.strip(), allow_insecure_http=info.data.get("allow_insecure_http", False))

    @field_validator("cache_ttl")
    @classmethod
    def _check_cache_ttl(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CATALOGUE))
        if unknown:
            raise ValueError(f"cache_ttl names unknown endpoint(s) {', '.join(unknown)}; use catalogue endpoint names")
        return value

    @field_validator("pool_name")
    @classmethod
    def _check_pool_name(cls, value: str) -> str:
        if not _POOL_NAME.match(value):
            raise ValueError(f"pool_name may contain only letters, digits, '_', '.' and '-', got {value!r}")
        return value

    @field_validator("logger")
    @classmethod
    def _check_logger(cls, value: object | None) -> object | None:
        if value is None or isinstance(value, (logging.Logger, logging.LoggerAdapter)):
            return value
        missing = [name for name in _LOGGER_METHODS if not callable(getattr(value, name, None))]
        if missing:
            raise ValueError(
                f"logger must be a logging.Logger or an object with callable log, warn and error attributes; "
                f"{type(value).__name__} lacks callable {', '.join(missing)}"
            )
        return value

    @model_validator(mode="after")
    def _check_cross_fields(self) -> PoolOptions:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) is greater than max_workers ({self.max_workers}); "
                "lower min_workers or raise max_workers"
            )
        if self.total_timeout is not None and self.total_timeout >= self.task_timeout:
            raise ValueError(
                f"total_timeout ({self.total_timeout:g} s) must be below task_timeout ({self.task_timeout:g} s), so an "
                "HTTP attempt ends with its own error before the pool abandons it; lower total_timeout"
            )
        if self.backoff_cap < self.backoff_base:
            raise ValueError(
                f"backoff_cap ({self.backoff_cap}) is smaller than backoff_base ({self.backoff_base}); "
                "raise backoff_cap or lower backoff_base"
            )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _hide_inputs(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Validate, and on failure raise a ``ValidationError`` that holds none of the values given (defined last,
        so it wraps every other validator).

        ``hide_input_in_errors`` keeps them out of its text; this keeps them out of ``errors()`` and its pickle too.
        """
        try:
            return handler(data)
        except ValidationError as error:
            failure = ValidationError.from_exception_data(
                error.title,
                [_without_input(details) for details in error.errors()],
                hide_input=True,
            )
        raise failure

    @property
    def attempt_timeout(self) -> float:
        """Seconds one HTTP attempt of a worker may take: ``total_timeout``, or the default below ``task_timeout``."""
        if self.total_timeout is not None:
            return self.total_timeout
        return min(DEFAULT_TOTAL_TIMEOUT, 0.75 * self.task_timeout)

    @property
    def slots_per_worker(self) -> int:
        """Requests one worker actor serves at once: ``inflight_per_worker`` for each of its tokens."""
        return self.inflight_per_worker * self.tokens_per_worker

    @property
    def tokens(self) -> int:
        """Tokens of the pool at ``max_workers``: what its rate limit is counted in (``tokens x rate_per_token``)."""
        return self.max_workers * self.tokens_per_worker

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``NepseClient(**options.client_kwargs())`` in each worker."""
        return {
            "base_url": self.base_url,
            "rate": self.rate_per_token,
            "burst": self.burst,
            "user_agent": self.user_agent,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "max_retry_after": self.max_retry_after,
            "verify": self.verify,
            "ca_bundle": self.ca_bundle,
            "allow_insecure_http": self.allow_insecure_http,
            "total_timeout": self.attempt_timeout,
            "max_body_bytes": self.max_body_bytes,
        }

    def for_actors(self) -> PoolOptions:
        """This configuration without the driver-side logger, safe to pickle into Ray actors."""
        return self.model_copy(update={"logger": None})


class PoolLogger:
    """The pool's view of a logger: ``log``, ``warn`` and ``error``, each taking one message.

    Wraps either a stdlib ``logging.Logger`` / ``LoggerAdapter`` (``log`` -> ``info``, ``warn`` -> ``warning``) or a
    custom object that already has ``log``, ``warn`` and ``error``.
    """

    __slots__ = ("error", "log", "warn")

    def __init__(self, log: Callable[[str], object], warn: Callable[[str], object], error: Callable[[str], object]):
        self.log = log
        self.warn = warn
        self.error = error


#: Options a joining driver must share with the pool: where its workers fetch from, and which certificates they trust.
_MUST_MATCH = frozenset({"base_url", "verify", "ca_bundle"})


def joined_with(existing: PoolOptions, asked: PoolOptions) -> list[str]:
    """The options a driver ``asked`` for that differ from those pool ``existing`` runs with (it is joined as it is);
    :class:`PoolConfigError` when it talks to another site or with other TLS settings."""
    theirs, ours = existing.model_dump(), asked.model_dump()
    changed = sorted(k for k, v in ours.items() if theirs[k] != v)
    conflicting = [k for k in changed if k in _MUST_MATCH]
    if conflicting:
        raise PoolConfigError(
            f"pool {asked.pool_name!r} already runs with other {', '.join(conflicting)} "
            f"({'; '.join(f'{k}={theirs[k]!r}, asked for {ours[k]!r}' for k in conflicting)}); its workers "
            "would fetch from the wrong place or trust other certificates. Use another pool_name, or shut that "
            "pool down first"
        )
    return changed


def _without_input(error: ErrorDetails) -> InitErrorDetails:
    details: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": None}
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def pool_logger(options: PoolOptions) -> PoolLogger:
    """The logger adapter for ``options.logger``; the ``nepse_ray.pool`` stdlib logger when none was given."""
    target = options.logger
    if target is None:
        target = logging.getLogger(_DEFAULT_LOGGER_NAME)
    if isinstance(target, (logging.Logger, logging.LoggerAdapter)):
        return PoolLogger(log=target.info, warn=target.warning, error=target.error)
    log, warn, error = (getattr(target, name) for name in _LOGGER_METHODS)
    return PoolLogger(log=log, warn=warn, error=error)
