"""cluster.yaml must be a valid Ray cluster-launcher config (checked offline against Ray's own schema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    path = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def test_cluster_yaml_matches_ray_schema(schema: dict[str, object]) -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    jsonschema.validate(config, schema)
    assert config["head_node_type"] in config["available_node_types"]


def test_schema_catches_a_typo(schema: dict[str, object]) -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["max_worker"] = config.pop("max_workers")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)
