"""The wheel as pip builds it: the package's types marker, the license, and metadata without deprecated forms."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_py_typed_and_the_license(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--quiet", "--wheel-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "deprecat" not in (build.stdout + build.stderr).lower()  # e.g. the license table form
    (wheel,) = tmp_path.glob("nepse_ray-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "nepse_ray/py.typed" in names
    assert "nepse_ray/nepse/certs/geotrust-tls-rsa-ca-g1.pem" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "Classifier: Typing :: Typed" in metadata.splitlines()
