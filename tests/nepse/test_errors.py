"""The exception hierarchy: what each error says about retrying, and that all of them survive pickling."""

from __future__ import annotations

import inspect
import pickle

import pytest

from nepse_ray.nepse import errors

ALL_ERRORS = sorted(
    (cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.NepseError)),
    key=lambda cls: cls.__name__,
)

RETRYABLE = {
    "NepseError": False,
    "NepseInputError": False,
    "NepsePathNotAllowedError": False,
    "NepseAuthError": False,
    "NepseHandshakeError": True,
    "NepseRateLimitedError": True,
    "NepseEmptyPageError": True,
    "NepseInvalidResponseError": True,
    "NepseForbiddenError": False,
    "NepseServerError": True,
    "NepseClientRequestError": False,
    "NepseConnectionError": True,
    "NepseTimeoutError": True,
    "NepseDeadlineError": True,
    "NepseResponseTooLargeError": False,
    "NepseHeaderValueError": False,
}


def test_the_retryable_table_names_every_error() -> None:
    assert {cls.__name__ for cls in ALL_ERRORS} == set(RETRYABLE)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_default_retryable(cls: type[errors.NepseError]) -> None:
    assert cls("x").retryable is RETRYABLE[cls.__name__]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_pickle_round_trip(cls: type[errors.NepseError]) -> None:
    error = cls("floorsheet: HTTP 429, wait 3 s", endpoint="floorsheet", status=429, retry_after=3.0)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is cls
    assert (str(clone), clone.message, clone.args) == (str(error), error.message, error.args)
    assert (clone.endpoint, clone.status, clone.retry_after, clone.retryable) == (
        "floorsheet",
        429,
        3.0,
        error.retryable,
    )


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_retryable_override_survives_pickling(cls: type[errors.NepseError]) -> None:
    flipped = not RETRYABLE[cls.__name__]
    clone = pickle.loads(pickle.dumps(cls("x", retryable=flipped)))
    assert clone.retryable is flipped
    assert cls("y").retryable is RETRYABLE[cls.__name__]  # the override was per instance, not per class


def test_pickling_drops_the_cause() -> None:
    try:
        try:
            raise RuntimeError("Authorization: Salter secret-token")
        except RuntimeError as inner:
            raise errors.NepseConnectionError("GET /api/nots/x: dropped") from inner
    except errors.NepseConnectionError as error:
        data = pickle.dumps(error)
    assert b"secret-token" not in data
    assert pickle.loads(data).__cause__ is None


def test_hierarchy() -> None:
    assert issubclass(errors.NepseInputError, ValueError)
    assert issubclass(errors.NepsePathNotAllowedError, errors.NepseInputError)
    assert all(issubclass(cls, errors.NepseError) for cls in ALL_ERRORS)
