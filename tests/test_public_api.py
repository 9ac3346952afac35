"""The public surface of ``nepse_ray`` is exactly ``__all__``, and the protocol core does not pull in Ray."""

from __future__ import annotations

import subprocess
import sys

import nepse_ray


def test_every_public_name_resolves() -> None:
    for name in nepse_ray.__all__:
        assert getattr(nepse_ray, name) is not None, name


def test_public_names_are_pinned() -> None:
    assert sorted(nepse_ray.__all__) == sorted(
        [
            "ClusterNotFoundError", "DatasetCorruptError", "DatasetLockedError", "EmptyDayError", "IncompletePullError",
            "IncompleteSyncError", "NepseAuthError", "NepseCertificateError", "NepseClient", "NepseClientRequestError",
            "NepseConnectionError", "NepseContentEncodingError", "NepseDeadlineError", "NepseEmptyPageError",
            "NepseError", "NepseForbiddenError", "NepseHandshakeError", "NepseHeaderValueError", "NepseInputError",
            "NepseInvalidResponseError", "NepsePathNotAllowedError", "NepseRateLimitedError", "NepseResponseError",
            "NepseResponseTooLargeError", "NepseServerError", "NepseStatusError", "NepseTimeoutError",
            "NepseTransportError", "NepseWorkerAPI", "NotADatasetError", "OutputError", "PagingError", "PoolBusyError",
            "PoolConfigError", "PoolError", "PoolNotFoundError", "PoolOptions", "PoolRouteError", "PoolShutdownError",
            "PoolStats",
            "PullResult", "PullTooLargeError", "TaskTimeoutError",
            "DoctorReport", "doctor", "NepseDecoderError", "NepseSchemaError", "MarketState", "Stream", "Tick",
            "UnknownSymbolError", "WorkerLostError", "companies", "default_api", "index_history", "nepse_worker_api",
            "price_history", "pull_floorsheet", "read_floorsheet", "read_price_history", "read_today_price",
            "securities", "today_prices",
        ]
    )  # fmt: skip


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        nepse_ray.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_client_and_simulator_do_not_import_ray() -> None:
    code = "import sys, nepse_ray, nepse_ray.sim; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
