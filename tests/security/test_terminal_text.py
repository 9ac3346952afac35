"""Text from the site reaches the terminal as escapes: a symbol carrying ``ESC [2J`` and a right-to-left override
shows up in ``nepse-ray``'s one-line error as ``\\u001b[2J\\u202e``, and never clears a screen."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sim_session import SimSession

from nepse_ray.cli import main
from nepse_ray.sim import Simulator
from nepse_ray.sim.hostile import CONTROL_SEQUENCES, SYMBOL_CONTROLS
from nepse_ray.terminal import printable

#: Characters that must never reach a terminal from the site.
OBEYED = "\x1b\x07\r\x9b\u202e"


def test_every_control_character_is_escaped_and_json_stays_json() -> None:
    controls = [chr(n) for n in (*range(0x20), *range(0x7F, 0xA0)) if chr(n) != "\n"]
    controls += [c for c in map(chr, range(0x2000, 0x2070)) if unicodedata.bidirectional(c) in ("LRE", "RLE", "PDF",
                 "LRO", "RLO", "LRI", "RLI", "FSI", "PDI")]  # fmt: skip
    shown = printable("".join(controls) + CONTROL_SEQUENCES)
    assert shown.isprintable() and "\\u001b]0;owned\\u0007" in shown
    document = json.dumps({"symbol": "NABIL" + SYMBOL_CONTROLS + "\x9b"}, ensure_ascii=False)
    assert json.loads(printable(document)) == json.loads(document)
    assert printable("नेप्से\u200d ok") == "नेप्से\u200d ok"  # joiners that Devanagari needs are text, not controls


@pytest.mark.ray
def test_a_hostile_symbol_in_a_one_line_error_is_escaped(
    capsys: pytest.CaptureFixture[str],
    hostile_sim: Callable[..., Simulator],
    nepse_ray_cluster: dict[str, Any],
    tmp_path: Path,
) -> None:
    sim = hostile_sim("control-chars", day_source="nepal")
    session = SimSession(sim)
    session.prove()
    hostile = session.call("security_list").json()[0]["symbol"]
    typed = hostile.removesuffix(SYMBOL_CONTROLS)  # what the user sees on the site, and types
    argv = ["pull", "history", "--symbols", typed, "--out", str(tmp_path / "h.csv"), "--base-url", sim.base_url]
    assert main([*argv, "--address", nepse_ray_cluster["gcs_address"], "--max-workers", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("nepse-ray pull: UnknownSymbolError: "), err
    assert f"did you mean {typed}\\u001b[2J\\u202e," in err[0]
    assert not any(character in err[0] for character in OBEYED)
