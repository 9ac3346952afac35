"""Fixtures of the TLS tests (tests/tls): servers whose certificate chain lacks its intermediate.

``chain_site(...)`` serves one through the ``chain_sites`` helper (``tests/chain_sites.py``); each call makes a new
private root, because a process keeps what it learns through AIA per trust store and no test may see another's. The
pure tests build certificates with :class:`~nepse_ray.sim.tls.PrivatePKI` and ``trustme``; the simulator's own
``tls`` mode runs through the installed plugin's ``nepse_sim_factory`` and ``nepse_pool_factory``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chain_sites import ChainSite, serve_chain_site


@pytest.fixture
def chain_site(tmp_path: Path) -> Iterator[Callable[..., ChainSite]]:
    """``chain_site(aia=..., hosts=...)``: see :func:`chain_sites.serve_chain_site`; all close after the test."""
    sites: list[ChainSite] = []

    def make(**options: Any) -> ChainSite:
        site = serve_chain_site(tmp_path, **options)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.close()
