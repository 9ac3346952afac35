"""The Grafana dashboard against a real Prometheus: Debian's ``prometheus`` (what operators run) scrapes a real head
node through the service-discovery file Ray writes, while a pool serves traffic that moves every metric, and every
expression of ``monitoring/grafana/nepse-ray.json`` returns series through Prometheus's HTTP API. ``promtool check
metrics`` lints the pool's part of the node's exposition.

The head is tests/ops/conftest.py's (``ray_head.py``, a 1 s metrics report interval); Prometheus runs on 127.0.0.1
with a free port, its own data dir and a copy of the configuration Ray wrote for the session, scraping every second,
and is stopped by PID. The traffic is ``head_driver.py``'s metrics scenario in a driver process of its own (errors,
refusals, retries, coalesced calls, cache hits, a scale-up and a replacement), holding its pool up until the queries
are done. Without the ``prometheus`` and ``promtool`` binaries (``apt-get install --no-install-recommends
prometheus``; ``.ci/run`` installs them where apt exists) the test skips.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests
import yaml
from head_driver import READY, scrape
from metric_tables import every_metric, exported_names
from prometheus_client.parser import text_string_to_metric_families
from ray_head import Head, free_ports, terminate

from nepse_ray.sim import Simulator

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(
        PROMETHEUS is None or PROMTOOL is None,
        reason="needs Prometheus's prometheus and promtool binaries on PATH: "
        "apt-get install -y --no-install-recommends prometheus (.ci/run installs it where apt exists)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "monitoring" / "grafana" / "nepse-ray.json"
DRIVER = REPO / "tests" / "head_driver.py"
POOL = "prometheus-pool"
SCRAPE_INTERVAL = "1s"
#: promtool's complaint about label names such as Ray's own WorkerId, NodeAddress and SessionName.
CAMEL_CASE = "label names should be written in 'snake_case' not 'camelCase'"


@dataclasses.dataclass(frozen=True)
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The series ``expr`` returns now (``/api/v1/query``)."""
        answer = self._get("/api/v1/query", {"query": expr})
        assert answer["resultType"] == "vector", answer
        series: list[dict[str, Any]] = answer["result"]
        return series

    def label_values(self, label: str, metric: str) -> list[str]:
        """What Grafana's ``label_values(metric, label)`` lists."""
        values: list[str] = self._get(f"/api/v1/label/{label}/values", {"match[]": metric})
        return values

    def _get(self, path: str, params: dict[str, str]) -> Any:
        response = requests.get(self.url + path, params=params, timeout=30)
        assert response.status_code == 200, f"{path} {params}: {response.status_code} {response.text[:500]}"
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]


@pytest.fixture
def prometheus(head: Head, tmp_path: Path) -> Iterator[Prometheus]:
    """Prometheus scraping the head's nodes, found through the service-discovery file of Ray's own configuration."""
    config: dict[str, Any] = yaml.safe_load((head.session_dir / "metrics/prometheus/prometheus.yml").read_text())
    (discovery,) = config["scrape_configs"][0]["file_sd_configs"][0]["files"]
    assert Path(discovery).is_file(), f"Ray's configuration names {discovery}, which does not exist"
    config["global"] |= {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL}
    config_file, data, log = tmp_path / "prometheus.yml", tmp_path / "prometheus-data", tmp_path / "prometheus.log"
    config_file.write_text(yaml.safe_dump(config))
    (port,) = free_ports(1)
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={config_file}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert _eventually(lambda: _ready(server.url), timeout=60), log.read_text()[-3000:]
        yield server
    finally:
        terminate([process.pid])
        process.wait(timeout=10)


def _ready(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(url + "/-/ready", timeout=5).status_code == 200
    return False


def _eventually(done: Callable[[], bool], timeout: float) -> bool:
    """Whether ``done()`` holds within ``timeout`` seconds (polled twice a second)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@contextlib.contextmanager
def held_pool(head: Head, sim: Simulator, tmp_path: Path) -> Iterator[None]:
    """``head_driver.py prometheus`` until it says ``READY`` (its traffic done, every metric on the node's endpoint);
    on exit the driver shuts its pool down and must end cleanly."""
    env = {**head.env, "RAY_ADDRESS": head.gcs_address, "PYTHONPATH": str(DRIVER.parent)}
    out, errors = tmp_path / "driver.json", tmp_path / "driver.err"
    with errors.open("w") as stderr:
        driver = subprocess.Popen(
            [sys.executable, str(DRIVER), "prometheus", sim.base_url, POOL, head.metrics_url, str(out)],
            env=env, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert driver.stdin is not None and driver.stdout is not None
    try:
        assert _read_until_ready(driver.stdout, timeout=300), errors.read_text()[-5000:]
        yield
        driver.stdin.write("\n")
        driver.stdin.flush()
        assert driver.wait(timeout=120) == 0, errors.read_text()[-5000:]
        assert json.loads(out.read_text())["answered"] >= 20
    finally:
        if driver.poll() is None:
            terminate([driver.pid])


def _read_until_ready(stdout: IO[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while selector.select(max(0.0, deadline - time.monotonic())):
            line = stdout.readline()
            if not line or line.strip() == READY:
                return bool(line)
    return False


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def as_grafana_sends(expr: str, pool: str, window: str) -> str:
    """``expr`` with the dashboard's variables replaced as Grafana replaces them for one chosen pool (a name without
    regex metacharacters, so it stands for itself in ``pool=~"$pool"``)."""
    assert re.fullmatch(r"[\w-]+", pool)
    sent = expr.replace("$__rate_interval", window).replace("$pool", pool)
    assert "$" not in sent, f"{expr} uses a variable this test does not know"
    return sent


def test_every_dashboard_query_returns_series_from_a_real_prometheus(
    head: Head, prometheus: Prometheus, nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    expressions = [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    started = time.monotonic()
    with held_pool(head, sim, tmp_path):
        answers: dict[str, list[dict[str, Any]]] = {}

        def every_query_answers() -> bool:
            # $__rate_interval: a window that spans the whole of the traffic, as a dashboard range over the run would.
            window = f"{math.ceil(time.monotonic() - started) + 10}s"
            answers.update({expr: prometheus.query(as_grafana_sends(expr, POOL, window)) for expr in expressions})
            return all(_finite(series) for series in answers.values())

        _eventually(every_query_answers, timeout=60)
        silent = [expr for expr, series in answers.items() if not _finite(series)]
        assert silent == [], f"no series with a value: {silent}\n{prometheus.log.read_text()[-2000:]}"

        (variable,) = [v for v in dashboard()["templating"]["list"] if v["name"] == "pool"]
        listed = re.fullmatch(r"label_values\((\w+), pool\)", variable["query"]["query"])
        assert listed is not None and POOL in prometheus.label_values("pool", listed.group(1))

        exposition = scrape(head.metrics_url)
    lint_pool_exposition(exposition)


def _finite(series: list[dict[str, Any]]) -> bool:
    """At least one series, one of them with a number (a histogram quantile over no observations is NaN)."""
    return any(math.isfinite(float(one["value"][1])) for one in series)


def pool_families(exposition: str) -> str:
    """The pool's metric families of a node's exposition: their HELP and TYPE lines and their samples."""
    ours = re.compile(r"^(?:# (?:HELP|TYPE) )?ray_nepse_pool_")
    return "".join(line + "\n" for line in exposition.splitlines() if ours.match(line))


def lint_pool_exposition(exposition: str) -> None:
    """``promtool check metrics`` parses the pool's families and finds nothing wrong in what the pool names: the
    only complaint allowed is the camelCase of the labels Ray adds to every series (WorkerId, NodeAddress...)."""
    text = pool_families(exposition)
    names = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    assert exported_names() <= names
    linted = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
    problems = [line for line in (linted.stdout + linted.stderr).splitlines() if line.strip()]
    assert linted.returncode in (0, 3), problems  # 3: lint problems only, the text parsed
    assert [problem for problem in problems if not problem.endswith(CAMEL_CASE)] == []
    ours = {tag for spec in every_metric() for tag in ("pool", *spec.tags)}
    camel = {
        label
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for label in sample.labels
        if label != label.lower()
    }
    assert ours.isdisjoint(camel) and all(re.fullmatch(r"[a-z][a-z0-9_]*", tag) for tag in ours)
