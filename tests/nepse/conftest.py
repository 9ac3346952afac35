"""Fixtures of the protocol tests (tests/nepse): the client rig.

The fakes these tests share are helper modules in ``tests/``: ``nepse_fakes`` (a fake NEPSE behind the transport
interface, canned bodies, a fake clock), ``client_rig`` (a client wired to that fake) and ``loopback_http`` (a real
HTTP server on 127.0.0.1).
"""

from __future__ import annotations

import pytest
from client_rig import Rig


@pytest.fixture
def rig() -> Rig:
    """A client wired to a fresh fake NEPSE; the rate limiter never waits."""
    return Rig()
