"""The site-change tests (tests/site_changes, issue #22).

The decoder, the wasm reader and runner, the shared memory and the payload search are tested without Ray (fake
fetches, an injected clock, the simulator's modules and hand-written hostile ones); the doctor and the client
against the real simulator serving each named change (``nepse_sim_factory(changes=[...])``); the 100-page pulls
through a pool on the session's Ray cluster (``@pytest.mark.ray``).
"""

from __future__ import annotations
