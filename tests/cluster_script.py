"""Run a script that builds its own ``ray.cluster_utils.Cluster`` in a subprocess and read the JSON it prints last.

The subprocess gets its own short ``RAY_TMPDIR`` (Ray's socket paths must stay short), so its cluster never meets
the session cluster of the other tests; the directory is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_cluster_script(script: str, tmp_path: Path, *, timeout: float) -> dict[str, Any]:
    """Run ``script`` (Python source) and return the JSON object on the last line of its output."""
    temp_dir = tempfile.mkdtemp(prefix="nrc-", dir="/tmp")
    path = tmp_path / "cluster_script.py"
    path.write_text(script)
    try:
        done = subprocess.run(
            [sys.executable, str(path)],
            env={**os.environ, "RAY_TMPDIR": temp_dir},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
