"""What starting Ray leaves behind on this machine: no world-readable token, no debugger hook in the environment.

``ray.init()`` as ``NepseWorkerAPI()`` calls it for ``nepse-ray demo``, ``pull`` and ``sync`` runs in a child
process with a scratch home and Ray temp dir (never the real ``~/.ray``) and the usual umask of 0022; the plugin's
private instance runs in another. ``cluster.yaml``'s instruction to create the token runs in a scratch home too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.local_ray import keep_default_token_private

ROOT = Path(__file__).resolve().parents[2]

CONNECT = """
import json, os, stat
os.umask(0o022)
import ray
from nepse_ray.pool.api import _connect
from nepse_ray.pool.options import PoolOptions
_connect(PoolOptions(), None)
ray.shutdown()
token = os.path.expanduser("~/.ray/auth_token")
print(json.dumps([stat.S_IMODE(os.stat(path).st_mode) for path in (token, os.path.dirname(token))]))
"""

PRIVATE_RAY = """
import json, os
from nepse_ray.local_ray import private_ray
with private_ray("nepse_ray_tests"):
    during = os.environ.get("PYTHONBREAKPOINT")
print(json.dumps([during, os.environ.get("PYTHONBREAKPOINT")]))
"""


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment with no Ray settings, a scratch home and a short Ray temp dir of its own (Ray puts unix
    sockets there)."""
    home = tmp_path / "home"
    home.mkdir()
    ray_tmp = tempfile.mkdtemp(prefix="nr-sec-", dir="/tmp")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RAY_", "PYTEST_"))}
    env.update(HOME=str(home), RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    yield env
    shutil.rmtree(ray_tmp, ignore_errors=True)


def run(script: str, env: dict[str, str]) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.ray
def test_the_token_of_a_local_instance_is_private(scratch: dict[str, str]) -> None:
    assert run(CONNECT, scratch) == [0o600, 0o700]


@pytest.mark.ray
def test_the_private_instance_puts_pythonbreakpoint_back(scratch: dict[str, str]) -> None:
    during, after = run(PRIVATE_RAY, {**scratch, "PYTHONBREAKPOINT": "0"})
    assert during.startswith("ray.util.rpdb")  # ray.init set it for the scope
    assert after == "0"  # the user's own setting is back


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_an_existing_token_readable_by_others_is_made_private(home: Path) -> None:
    token = home / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("existing")
    token.chmod(0o644)
    keep_default_token_private("10.0.0.5:6379")
    assert (stat.S_IMODE(token.stat().st_mode), token.read_text()) == (0o600, "existing")


def test_no_token_is_written_when_joining_a_cluster_or_without_token_auth(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_default_token_private("10.0.0.5:6379")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    keep_default_token_private(None)
    assert not (home / ".ray").exists()


def test_cluster_yaml_tells_users_to_create_the_token_private(tmp_path: Path) -> None:
    header = (ROOT / "cluster.yaml").read_text().split("\ncluster_name:")[0]
    steps = [re.sub(r"\s+#.*$", "", line.lstrip("# ")) for line in header.splitlines() if "auth_token" in line]
    steps = [step for step in steps if step.startswith(("(", "ray get-auth-token", "chmod"))]
    assert steps, "cluster.yaml no longer says how to create the token"
    bin_dir = str(Path(sys.executable).parent)
    env = {"HOME": str(tmp_path), "PATH": f"{bin_dir}:/usr/bin:/bin", "RAY_USAGE_STATS_ENABLED": "0"}
    for step in steps:
        subprocess.run(["bash", "-c", step], env=env, check=True, capture_output=True, timeout=120)
    token = tmp_path / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text().strip()) >= 32
