"""The installed pytest plugin, seen from other projects: pytest runs in temporary projects, in subprocesses.

The subprocesses get an environment without the variables this suite's ``conftest.py`` sets, a home of their own
and a ``RAY_ADDRESS`` that leads nowhere, and pytest loads the plugin as any user gets it: from the entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: Variables the old plugin set at configure time; a project that does not use the fixtures must never see them.
RAY_VARIABLES = (
    "RAY_AUTH_MODE",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
    "RAY_USAGE_STATS_ENABLED",
    "RAY_AUTH_TOKEN_PATH",
)

#: Dumps the environment after the session, when every session fixture has been torn down.
CONFTEST = textwrap.dedent(
    """
    import json
    import os
    import sys


    def pytest_unconfigure(config):
        with open(os.environ["ENV_AFTER"], "w") as out:
            json.dump({"environ": dict(os.environ), "ray_imported": "ray" in sys.modules}, out)
    """
)

UNRELATED_TEST = textwrap.dedent(
    """
    import json
    import os
    import sys


    def test_records_the_environment(request):
        assert request.config.pluginmanager.has_plugin("nepse_ray")  # loaded from the entry point
        with open(os.environ["ENV_DURING"], "w") as out:
            json.dump({"environ": dict(os.environ), "ray_imported": "ray" in sys.modules}, out)
    """
)

POOL_TEST = textwrap.dedent(
    """
    import json
    import os

    import ray  # imported at collection, before any fixture runs


    def test_a_pool_against_the_simulator(nepse_ray_cluster, nepse_sim_factory, nepse_pool_factory):
        sim = nepse_sim_factory(trades=1_000, rate_limit=None)
        api = nepse_pool_factory(sim, rate_per_token=50.0)
        assert api.market_open().id == 80
        assert len(api.floorsheet(page=0, size=500).floorsheets.content) == 500
        with open(os.environ["ENV_DURING"], "w") as out:
            json.dump(
                {
                    "environ": dict(os.environ),
                    "gcs_address": ray.get_runtime_context().gcs_address,
                    "node_ip": nepse_ray_cluster["node_ip_address"],
                    "token_file": os.path.isfile(os.environ.get("RAY_AUTH_TOKEN_PATH", "")),
                },
                out,
            )
    """
)


def run_project(tmp_path: Path, test_source: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Run pytest on a one-test project; the test's and the after-session records, and the environment given."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_it.py").write_text(test_source)
    home = tmp_path / "home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RAY_", "PYTEST_"))}
    env.update(
        HOME=str(home),
        RAY_ADDRESS="127.0.0.1:9",  # a cluster fixture that honoured it would fail to connect
        ENV_DURING=str(tmp_path / "during.json"),
        ENV_AFTER=str(tmp_path / "after.json"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    during = json.loads((tmp_path / "during.json").read_text())
    after = json.loads((tmp_path / "after.json").read_text())
    return during, after, env


def test_a_project_that_does_not_use_the_fixtures_is_untouched(tmp_path: Path) -> None:
    during, after, given = run_project(tmp_path, UNRELATED_TEST)
    for record in (during, after):
        assert not record["ray_imported"]
        for name in RAY_VARIABLES:
            assert name not in record["environ"]
        changed = {k for k in {*given, *record["environ"]} if given.get(k) != record["environ"].get(k)}
        assert changed <= {"PYTEST_CURRENT_TEST", "PYTEST_VERSION"}


@pytest.mark.ray
def test_a_users_own_test_runs_a_pool_with_the_fixtures(tmp_path: Path) -> None:
    during, after, given = run_project(tmp_path, POOL_TEST)
    # During the session: a private cluster on loopback, not the one RAY_ADDRESS names, with token auth on.
    assert during["node_ip"] == "127.0.0.1"
    assert during["gcs_address"].startswith("127.0.0.1:") and during["gcs_address"] != given["RAY_ADDRESS"]
    assert during["environ"]["RAY_AUTH_MODE"] == "token" and during["token_file"]
    assert during["environ"]["RAY_USAGE_STATS_ENABLED"] == "0"
    # After it: every variable back as it was, and nothing written to the home directory.
    for name in RAY_VARIABLES:
        assert name not in after["environ"]
    assert after["environ"]["RAY_ADDRESS"] == given["RAY_ADDRESS"]
    assert not (tmp_path / "home" / ".ray").exists()
    assert not Path(during["environ"]["RAY_AUTH_TOKEN_PATH"]).exists()  # the temp dir is gone
