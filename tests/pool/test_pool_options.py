"""PoolOptions: the original design's defaults, validation messages, logger adapters, what reaches the actors; pool
errors."""

from __future__ import annotations

import inspect
import logging
import pickle
from typing import Any

import pytest
from pool_fakes import RecordingLogger
from pydantic import ValidationError

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseError
from nepse_ray.pool.errors import PoolError, PoolShutdownError, TaskTimeoutError, WorkerLostError
from nepse_ray.pool.options import PoolOptions, pool_logger


def test_defaults_match_the_original_design() -> None:
    options = PoolOptions()
    assert (options.min_workers, options.max_workers) == (1, 5)
    assert options.idle_timeout == 30.0
    assert options.task_timeout == 60.0
    assert options.max_retries == 3
    assert options.scaling_threshold == 0.8
    assert options.inflight_per_worker == 2
    assert options.rate_per_token == 2.0
    assert options.base_url == "https://www.nepalstock.com"
    assert options.metrics and not options.allow_insecure_http


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_workers": 0}, "min_workers"),
        ({"max_workers": 65}, "max_workers"),
        ({"scaling_threshold": 0}, "scaling_threshold"),
        ({"scaling_threshold": 1.5}, "scaling_threshold"),
        ({"idle_timeout": -1}, "idle_timeout"),
        ({"task_timeout": 0}, "task_timeout"),
        ({"task_timeout": -5}, "task_timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"inflight_per_worker": 17}, "inflight_per_worker"),
        ({"max_restarts": -2}, "max_restarts"),
        ({"pool_rate_cap": 0}, "pool_rate_cap"),
        ({"upscale_delay": -0.1}, "upscale_delay"),
        ({"scale_interval": 0}, "scale_interval"),
        ({"idle_timeout": float("inf")}, "idle_timeout"),
        ({"base_url": "ftp://www.nepalstock.com"}, "base_url"),
        ({"base_url": "www.nepalstock.com"}, "base_url"),
        ({"base_url": "https://"}, "base_url"),
        ({"base_url": "https://www.nepalstock.com/api"}, "base_url"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"total_timeout": 0}, "total_timeout"),
        ({"pool_name": ""}, "pool_name"),
        ({"pool_name": "nepse ray!"}, "pool_name"),
        ({"logger": object()}, "logger"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_invalid_option_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PoolOptions(**kwargs)
    assert field in str(caught.value)


def test_min_above_max_says_what_to_do() -> None:
    with pytest.raises(ValidationError) as caught:
        PoolOptions(min_workers=6, max_workers=5)
    message = str(caught.value)
    assert "min_workers (6) is greater than max_workers (5)" in message
    assert "lower min_workers or raise max_workers" in message


def test_backoff_cap_below_base_is_rejected() -> None:
    with pytest.raises(ValidationError, match="backoff_cap"):
        PoolOptions(backoff_base=2.0, backoff_cap=1.0)


def test_logger_missing_a_method_is_named() -> None:
    class HalfLogger:
        def log(self, message: str) -> None: ...

        warn = "not callable"

    with pytest.raises(ValidationError, match="lacks callable warn, error"):
        PoolOptions(logger=HalfLogger())


def test_base_url_trailing_slash_is_stripped() -> None:
    assert PoolOptions(base_url="http://127.0.0.1:8080/").base_url == "http://127.0.0.1:8080"


def test_options_are_frozen() -> None:
    options = PoolOptions()
    with pytest.raises(ValidationError):
        options.max_workers = 3


def test_client_kwargs_match_nepse_client() -> None:
    options = PoolOptions(rate_per_token=1.5, burst=2, user_agent="ua", verify=False, ca_bundle="/ca.pem")
    assert options.client_kwargs() == {
        "base_url": "https://www.nepalstock.com",
        "rate": 1.5,
        "burst": 2,
        "user_agent": "ua",
        "connect_timeout": 5.0,
        "read_timeout": 30.0,
        "max_retry_after": 60.0,
        "verify": False,
        "ca_bundle": "/ca.pem",
        "allow_insecure_http": False,
        "total_timeout": 45.0,
        "max_body_bytes": 32 * 2**20,
    }
    assert set(options.client_kwargs()) <= set(inspect.signature(NepseClient).parameters)


def test_client_options_reach_every_worker_client() -> None:
    options = PoolOptions(
        base_url="http://10.1.2.3:8080", allow_insecure_http=True, total_timeout=20.0, max_body_bytes=4096
    )
    client = NepseClient(**options.client_kwargs())
    assert client.base_url == "http://10.1.2.3:8080"
    assert repr(client._transport) == (
        "RequestsTransport(verify=True, max_body_bytes=4096, total_timeout=20, source_address=None)"
    )


@pytest.mark.parametrize(
    "base_url",
    ["https://someone:hunter2@www.nepalstock.com", "http://hunter2@127.0.0.1:8080", "https://u:hunter2@x/path"],
)
def test_credentials_in_base_url_are_refused_and_never_echoed(base_url: str) -> None:
    with pytest.raises(ValidationError, match="without credentials") as caught:
        PoolOptions(base_url=base_url, min_workers=0)  # a second error must not echo it either
    error = caught.value
    texts = (str(error), repr(error), repr(error.args), repr(error.errors()), pickle.dumps(error).decode("latin-1"))
    assert not [text for text in texts if "hunter2" in text]
    assert {e["loc"] for e in error.errors()} == {("base_url",), ("min_workers",)}


def test_plain_http_to_another_machine_needs_the_opt_in() -> None:
    with pytest.raises(ValidationError, match="allow_insecure_http=True"):
        PoolOptions(base_url="http://www.nepalstock.com")
    assert PoolOptions(base_url="http://www.nepalstock.com", allow_insecure_http=True).allow_insecure_http
    assert PoolOptions(base_url="http://localhost:8080").base_url == "http://localhost:8080"


def test_total_timeout_must_stay_below_task_timeout() -> None:
    with pytest.raises(ValidationError, match=r"total_timeout \(60 s\) must be below task_timeout \(60 s\)"):
        PoolOptions(total_timeout=60.0)
    assert PoolOptions(task_timeout=120.0, total_timeout=90.0).client_kwargs()["total_timeout"] == 90.0
    assert PoolOptions(task_timeout=120.0).client_kwargs()["total_timeout"] == 45.0
    assert PoolOptions(task_timeout=20.0).client_kwargs()["total_timeout"] == 15.0  # a shorter task_timeout


def test_stdlib_logger_levels_are_mapped(caplog: pytest.LogCaptureFixture) -> None:
    options = PoolOptions(logger=logging.getLogger("nepse_ray.test_pool_options"))
    with caplog.at_level(logging.DEBUG, logger="nepse_ray.test_pool_options"):
        pool_logger(options).log("started")
        pool_logger(options).warn("slow")
        pool_logger(options).error("failed")
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (logging.INFO, "started"),
        (logging.WARNING, "slow"),
        (logging.ERROR, "failed"),
    ]


def test_without_logger_messages_go_to_the_pool_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nepse_ray.pool"):
        pool_logger(PoolOptions()).log("hello")
    assert [(record.name, record.getMessage()) for record in caplog.records] == [("nepse_ray.pool", "hello")]


def test_custom_logger_receives_each_level() -> None:
    sink = RecordingLogger()
    log = pool_logger(PoolOptions(logger=sink))
    log.log("a")
    log.warn("b")
    log.error("c")
    assert sink.lines == [("log", "a"), ("warn", "b"), ("error", "c")]


def test_logger_is_left_out_of_dumps_and_actor_copies() -> None:
    options = PoolOptions(logger=RecordingLogger(), max_workers=3)
    assert "logger" not in options.model_dump()
    assert "logger" not in options.model_dump_json()
    shipped = options.for_actors()
    assert shipped.logger is None
    assert shipped.max_workers == 3
    assert shipped.model_dump() == options.model_dump()


def test_options_pickle_round_trip() -> None:
    class LocalLogger(RecordingLogger):
        """Defined in a function, so it cannot be pickled: for_actors() must drop it."""

    options = PoolOptions(min_workers=2, max_workers=4, pool_rate_cap=6.0, logger=LocalLogger())
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(options)
    restored = pickle.loads(pickle.dumps(options.for_actors()))
    assert restored == options.for_actors()
    assert restored.pool_rate_cap == 6.0
    with_stdlib_logger = PoolOptions(logger=logging.getLogger("nepse_ray.pickled"))
    assert pickle.loads(pickle.dumps(with_stdlib_logger)).logger is logging.getLogger("nepse_ray.pickled")


@pytest.mark.parametrize("error_type", [TaskTimeoutError, WorkerLostError, PoolShutdownError])
def test_pool_errors_pickle_and_explain(error_type: type[PoolError]) -> None:
    error = error_type(endpoint="market_status")
    restored = pickle.loads(pickle.dumps(error))
    assert isinstance(restored, NepseError)
    assert type(restored) is error_type
    assert str(restored) == error_type.default_message
    assert restored.endpoint == "market_status"
    assert restored.retryable is (error_type is not PoolShutdownError)


def test_pool_error_takes_a_specific_message() -> None:
    assert str(TaskTimeoutError("floorsheet page 3 took longer than 60 s")) == "floorsheet page 3 took longer than 60 s"
    assert "new NepseWorkerAPI" in PoolShutdownError.default_message


def test_the_coordinators_bulk_group_holds_max_queued_and_room_to_refuse() -> None:
    from nepse_ray.pool.actor import REFUSAL_HEADROOM, coordinator_actor_options

    options = coordinator_actor_options(PoolOptions(max_queued=500, pool_name="p", namespace="ns"))
    assert options["max_concurrency"] == 500 + REFUSAL_HEADROOM
    assert (options["name"], options["namespace"], options["get_if_exists"]) == ("p", "ns", True)
    assert (options["max_restarts"], options["max_task_retries"], options["lifetime"]) == (-1, -1, None)
    assert coordinator_actor_options(PoolOptions(detached=True))["lifetime"] == "detached"


def test_workers_are_pinned_to_their_node() -> None:
    from nepse_ray.pool.worker import worker_actor_options

    options = PoolOptions(inflight_per_worker=3, max_restarts=2, pool_name="p", namespace="ns")
    pinned = worker_actor_options(options, node_id="ab" * 28, number=7)
    assert (pinned["max_concurrency"], pinned["max_restarts"], pinned["max_task_retries"]) == (3, 2, 0)
    assert (pinned["name"], pinned["namespace"]) == ("p-worker-7", "ns")
    strategy = pinned["scheduling_strategy"]
    assert (strategy.node_id, strategy.soft) == ("ab" * 28, False)
    assert worker_actor_options(PoolOptions(), number=1)["scheduling_strategy"] == "SPREAD"


def test_a_worker_with_several_tokens_serves_each_tokens_share_at_once() -> None:
    from nepse_ray.pool.worker import worker_actor_options

    options = PoolOptions(max_workers=5, inflight_per_worker=2, tokens_per_worker=3)
    assert (options.slots_per_worker, options.tokens) == (6, 15)
    assert worker_actor_options(options, number=1)["max_concurrency"] == 6
    assert (PoolOptions().slots_per_worker, PoolOptions().tokens) == (2, 5)
    for wrong in (0, 9):
        with pytest.raises(ValidationError, match="tokens_per_worker"):
            PoolOptions(tokens_per_worker=wrong)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_queued", 0, "max_queued"),
        ("cache_ttl", {"no_such_endpoint": 1.0}, "unknown endpoint"),
        ("cache_ttl", {"market_open": -1.0}, "cache_ttl"),
        ("drain_timeout", -1.0, "drain_timeout"),
        ("max_retry_after", -5.0, "max_retry_after"),
    ],
)
def test_new_options_are_validated(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PoolOptions.model_validate({field: value})


def test_cache_ttl_may_keep_answers_for_good() -> None:
    assert PoolOptions(cache_ttl={"market_summary": float("inf")}).cache_ttl == {"market_summary": float("inf")}
