"""Errors the worker pool adds on top of the NEPSE protocol errors.

A request that fails inside a worker reaches the caller as the original :class:`~nepse_ray.nepse.errors.NepseError`
once retries are spent; the classes here cover what only the pool can know (a task ran too long, the worker died,
the pool is gone, full, or runs with other settings). Each has a default message that says what happened and what
to do, so callers may raise them bare or pass a more specific message. They pickle like every ``NepseError``;
the tree of all nepse-ray exceptions is drawn in :mod:`nepse_ray.nepse.errors`.
"""

from __future__ import annotations

from typing import ClassVar

from ray.exceptions import RayTaskError

from nepse_ray.nepse.errors import NepseError


class PoolError(NepseError):
    """Base class of the errors raised by the worker pool itself."""

    default_message: ClassVar[str] = "The NEPSE worker pool failed to run the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        endpoint: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(
            message or self.default_message, endpoint=endpoint, retry_after=retry_after, retryable=retryable
        )


class TaskTimeoutError(PoolError):
    """A task ran longer than ``PoolOptions.task_timeout``; the pool retries it like any transient failure."""

    retryable = True
    default_message = (
        "The request exceeded task_timeout and was abandoned. It is retried up to max_retries times; "
        "if the endpoint is legitimately slow, raise PoolOptions.task_timeout."
    )


class WorkerLostError(PoolError):
    """The worker actor died (or was killed) while the task was in flight; the task can run on another worker."""

    retryable = True
    default_message = (
        "The worker running this request died before answering. The pool replaces the worker and retries the "
        "request; if this keeps happening, check the Ray worker logs for crashes or out-of-memory kills."
    )


class PoolShutdownError(PoolError):
    """The pool is shutting down or has shut down; nothing more will run on it."""

    default_message = (
        "The NEPSE worker pool is shut down (or shutting down) and accepts no more requests. "
        "Create a new NepseWorkerAPI to make further calls."
    )


class PoolBusyError(PoolError):
    """The pool already holds ``max_queued`` bulk requests; this one was refused, not queued."""

    retryable = True
    default_message = (
        "The pool already holds max_queued bulk requests and refused this one. Submit in a bounded window "
        "(the pulls do), retry it later, or raise PoolOptions.max_queued if the coordinator has the memory."
    )


class PoolRouteError(PoolError):
    """The replica was asked for a cached answer the pool no longer knows (``replica.py``); calling again works."""

    default_message = "the pool no longer knows that cached answer; call again"
    retryable = True


class PoolConfigError(PoolError):
    """A pool with this name already runs with a different site or TLS settings; joining it would be wrong."""

    default_message = (
        "A pool with this name already runs against another base_url or with other TLS settings. Use another "
        "pool_name, or shut that pool down first."
    )


def original_error(error: BaseException) -> BaseException:
    """The exception a Ray task or actor method raised, unwrapped from Ray's ``RayTaskError`` (others as they are).

    The coordinator uses it on worker failures and the facade on coordinator failures, so a caller always meets the
    original :class:`~nepse_ray.nepse.errors.NepseError` subclass.
    """
    if isinstance(error, RayTaskError) and isinstance(error.cause, Exception):
        return error.cause
    return error
