"""cluster.yaml: a valid Ray cluster-launcher config (checked offline against Ray's own schema) that is safe to use.

Safe means: the dashboard and Jobs API listen on the head's loopback only (reached through ``ray dashboard``'s SSH
tunnel), every ``ray start`` runs with token auth and every node gets the token file, the project is installed
from the tree ``ray up`` syncs (never from a URL someone else could own), and every node exports metrics on a
fixed port.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml

ROOT = Path(__file__).resolve().parents[2]
START_COMMANDS = ("head_start_ray_commands", "worker_start_ray_commands")
SETUP_COMMANDS = ("initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands")
RAY_WORKER_PORTS = range(10002, 20000)


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    path = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


@pytest.fixture
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    return loaded


def shell_steps(config: dict[str, Any], sections: tuple[str, ...]) -> list[list[str]]:
    """Every simple command of ``sections``, split into words (``a && b; c`` gives three)."""
    commands = [command for section in sections for command in config.get(section, [])]
    return [shlex.split(step) for command in commands for step in re.split(r"&&|\|\||;", command) if step.strip()]


def ray_starts(config: dict[str, Any]) -> list[list[str]]:
    starts = [words for words in shell_steps(config, START_COMMANDS) if "ray" in words and "start" in words]
    assert len(starts) >= 2, "the head and the workers each need a ray start"
    return starts


def option(words: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in ``words``."""
    for i, word in enumerate(words):
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
        if word == name and i + 1 < len(words):
            return words[i + 1]
    return None


def test_cluster_yaml_matches_ray_schema(schema: dict[str, object], config: dict[str, Any]) -> None:
    jsonschema.validate(config, schema)
    assert config["head_node_type"] in config["available_node_types"]


def test_schema_catches_a_typo(schema: dict[str, object], config: dict[str, Any]) -> None:
    config["max_worker"] = config.pop("max_workers")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


def test_the_dashboard_listens_on_loopback_only(config: dict[str, Any]) -> None:
    heads = [words for words in ray_starts(config) if "--head" in words]
    assert heads
    for words in heads:
        assert option(words, "--dashboard-host") == "127.0.0.1"
    assert "0.0.0.0" not in (ROOT / "cluster.yaml").read_text()


def test_every_ray_start_uses_token_auth_and_every_node_gets_the_token(config: dict[str, Any]) -> None:
    for words in ray_starts(config):
        environment = words[: words.index("ray")]
        assert "RAY_AUTH_MODE=token" in environment, words
    mounted = {remote for remote in config["file_mounts"] if remote.endswith(".ray/auth_token")}
    assert mounted == {"~/.ray/auth_token"}  # where Ray looks for the token by default


def test_the_project_is_installed_from_the_synced_tree(config: dict[str, Any]) -> None:
    mounts: dict[str, str] = config["file_mounts"]
    installs = [
        words for words in shell_steps(config, SETUP_COMMANDS) if "install" in words and "pip" in " ".join(words)
    ]
    assert installs
    sources = [word for words in installs for word in words[words.index("install") + 1 :] if not word.startswith("-")]
    project_sources = [source for source in sources if source in mounts]
    assert project_sources, f"no pip install of a mounted path among {sources}"
    for source in sources:  # anything else installed is a package name, never a URL or a VCS reference
        assert "://" not in source and "git+" not in source and "@" not in source, source
    for source in project_sources:
        pyproject = (ROOT / mounts[source] / "pyproject.toml").read_text()
        assert re.search(r'^name = "nepse-ray"$', pyproject, re.MULTILINE)


def test_every_node_exports_metrics_on_one_fixed_port(config: dict[str, Any]) -> None:
    ports = {option(words, "--metrics-export-port") for words in ray_starts(config)}
    assert len(ports) == 1 and None not in ports, ports
    port = int(next(iter(ports)) or 0)
    assert 1024 < port < 65536 and port not in RAY_WORKER_PORTS


def test_no_command_stops_ray(config: dict[str, Any]) -> None:
    # `ray stop` kills every Ray process of the host; a repeated `ray up` must leave a running cluster alone.
    sections = (*SETUP_COMMANDS, *START_COMMANDS)
    stops = [words for words in shell_steps(config, sections) if words[:2] == ["ray", "stop"]]
    assert stops == []
