"""The exception hierarchy: what each error says about retrying, and that all of them survive pickling."""

from __future__ import annotations

import importlib
import inspect
import pickle

import pytest

import nepse_ray
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
    "NepseCertificateError": False,
    "NepseTimeoutError": True,
    "NepseDeadlineError": True,
    "NepseResponseTooLargeError": False,
    "NepseHeaderValueError": False,
    "NepseContentEncodingError": False,
    "PagingError": False,
    "NepseTransportError": False,
    "NepseStatusError": False,
    "NepseResponseError": True,
    "NepseDecoderError": False,
    "NepseSchemaError": False,
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


def drawn_parents() -> dict[str, str | None]:
    """Each class in the errors module's drawing, with the class it hangs from."""
    assert errors.__doc__ is not None
    drawing = [line for line in errors.__doc__.splitlines() if "── " in line or line.strip().startswith("NepseError ")]
    parents: dict[str, str | None] = {}
    chain: list[str] = []
    for line in drawing:
        name_at = line.index("Nepse") if "── " not in line else line.index("── ") + 3
        name = line[name_at:].split()[0]
        depth = (name_at - 4) // 4
        chain = [*chain[:depth], name]
        parents[name] = chain[-2] if len(chain) > 1 else None
    return parents


def every_nepse_ray_error() -> dict[str, type[errors.NepseError]]:
    importlib.import_module("nepse_ray.pool.lookup")  # the pool, pull and dataset modules define the rest
    importlib.import_module("nepse_ray.pulls")
    importlib.import_module("nepse_ray.dataset")
    found: dict[str, type[errors.NepseError]] = {}
    pending: list[type[errors.NepseError]] = [errors.NepseError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("nepse_ray."):
            found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def test_the_drawing_is_the_tree_and_every_class_is_exported() -> None:
    classes = every_nepse_ray_error()
    parents = drawn_parents()
    assert set(parents) == set(classes)
    for name, parent in parents.items():
        assert classes[name].__bases__[0].__name__ == (parent or "Exception"), name
        assert name in nepse_ray.__all__ and getattr(nepse_ray, name) is classes[name], name


@pytest.mark.parametrize(
    ("cls", "status"),
    [(errors.NepseAuthError, 401), (errors.NepseForbiddenError, 403), (errors.NepseRateLimitedError, 429)],
)
def test_a_status_error_for_one_status_carries_it(cls: type[errors.NepseStatusError], status: int) -> None:
    assert cls("x").status == status
    assert cls("x", status=418).status == 418
