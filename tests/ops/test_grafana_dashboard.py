"""The Grafana dashboard names only metrics the pool exports, shows every one of them, and filters by pool; the README
documents every one of them.

The metric names are taken from each PromQL expression by removing what is not a metric (strings, label matchers,
ranges, grouping clauses, function calls, keywords); the exported names come from ``pool/metrics.py``'s tables, so
a metric added there fails this test until the dashboard shows it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from metric_tables import every_metric, exported_names

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "monitoring" / "grafana" / "nepse-ray.json"
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                      "offset", "inf", "nan"})  # fmt: skip
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # grouping labels
    names = set()
    for match in IDENTIFIER.finditer(text):
        calls_a_function = text[match.end() :].lstrip().startswith("(")
        if not calls_a_function and match.group().lower() not in KEYWORDS:
            names.add(match.group())
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_parser_finds_metrics_and_nothing_else() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, lane) (rate(ray_a_bucket{pool=~"$pool",lane!="x"}[$__rate_interval])))'
    assert metric_names(expr) == {"ray_a_bucket"}
    assert metric_names("sum(rate(ray_a_sum[5m])) / sum without (WorkerId) (rate(ray_b_count[5m])) > bool 0") == {
        "ray_a_sum",
        "ray_b_count",
    }


def test_every_expression_names_only_metrics_the_pool_exports(dashboard: dict[str, Any]) -> None:
    exported = exported_names()
    for expr in expressions(dashboard):
        names = metric_names(expr)
        assert names and names <= exported, f"{expr} reads {sorted(names - exported)}, which the pool does not export"


def test_every_metric_the_pool_exports_has_a_panel(dashboard: dict[str, Any]) -> None:
    shown = {name for expr in expressions(dashboard) for name in metric_names(expr)}
    missing = [spec.name for spec in every_metric() if not shown.intersection(spec.exported)]
    assert missing == []


def test_every_expression_follows_the_pool_variable(dashboard: dict[str, Any]) -> None:
    for expr in expressions(dashboard):
        matchers = re.findall(r"\{([^}]*)\}", expr)
        assert matchers and all('pool=~"$pool"' in matcher for matcher in matchers), expr


def test_the_data_source_and_the_pool_are_variables(dashboard: dict[str, Any]) -> None:
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    query = variables["pool"]["query"]["query"]
    (metric,) = re.fullmatch(r"label_values\((\w+), pool\)", query).groups()  # type: ignore[union-attr]
    assert metric in exported_names()
    sources = [panel["datasource"] for panel in dashboard["panels"]]
    sources += [target["datasource"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert all(source == {"type": "prometheus", "uid": "${datasource}"} for source in sources)


def test_the_panels_operators_asked_for_are_there(dashboard: dict[str, Any]) -> None:
    titles = " | ".join(panel["title"].lower() for panel in dashboard["panels"])
    for words in ("workers by state", "queue by lane", "throughput", "errors by class", "retries",
                  "latency percentiles", "scale events", "restarts", "cache hits", "coalesced", "proves",
                  "rate-limiter wait"):  # fmt: skip
        assert words in titles


def test_the_readme_documents_every_metric_with_its_type_and_tags() -> None:
    rows = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| `ray_nepse_pool_")]
    for spec in every_metric():
        (row,) = [row for row in rows if row.startswith(f"| `{spec.exported[0]}`")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == spec.kind
        assert cells[2] == ", ".join(f"`{tag}`" for tag in ("pool", *spec.tags))
    assert len(rows) == len(every_metric())
