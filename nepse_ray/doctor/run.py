"""Running the doctor: the checks in order, against one client of the site, into a :class:`DoctorReport`."""

from __future__ import annotations

from typing import Any

from ..nepse.client import DEFAULT_BASE_URL, NepseClient
from ..nepse.endpoints import CATALOGUE
from ..nepse.site import SiteMemory
from .checks import (
    check_clock,
    check_handshake,
    check_payload_ids,
    check_tls,
    check_token_decoder,
    endpoint_check,
)
from .report import Check, DoctorReport
from .session import QUICK_SET, Session

#: The index every index endpoint is asked about (NEPSE's own).
INDEX_ID = 58


def doctor(
    base_url: str = DEFAULT_BASE_URL,
    *,
    all_endpoints: bool = False,
    verify: bool = True,
    ca_bundle: str | None = None,
    allow_insecure_http: bool = False,
    rate: float = 2.0,
    user_agent: str | None = None,
) -> DoctorReport:
    """Check the site at ``base_url`` against what nepse-ray knows and report each check (see the README's "When
    the site changes"). The quick set sends at most 30 requests, at ``rate`` per second on one token;
    ``all_endpoints`` calls every endpoint of the catalogue as well.

    >>> from nepse_ray.sim import Simulator
    >>> with Simulator(trades=1_000, rate_limit=None) as site:
    ...     report = doctor(site.base_url, rate=50.0)
    >>> report.verdict, report.check("token-decoder").status
    ('ok', 'ok')
    """
    client = NepseClient(
        base_url,
        rate=rate,
        verify=verify,
        ca_bundle=ca_bundle,
        allow_insecure_http=allow_insecure_http,
        user_agent=user_agent,
    )
    with client:
        memory = client.site
        assert isinstance(memory, SiteMemory)  # a client's own memory, since none was given
        session = Session(client.base_url, client, memory, verify=verify, ca_bundle=ca_bundle)
        return DoctorReport.of(client.base_url, _run(session, all_endpoints))


def _run(session: Session, all_endpoints: bool) -> list[Check]:
    tls = check_tls(session)
    handshake = check_handshake(session)
    clock = check_clock(session)
    decoder = check_token_decoder(session)
    endpoints: list[Check] = []
    if decoder.status != "broken":
        for name, params in QUICK_SET.items():
            endpoints.append(endpoint_check(name, params)(session))
        if all_endpoints:
            for name in CATALOGUE:
                if name not in QUICK_SET and name != "market_open":
                    endpoints.append(endpoint_check(name, _sample_params(session, name))(session))
    return [tls, clock, handshake, decoder, check_payload_ids(session), *endpoints]


def _sample_params(session: Session, name: str) -> dict[str, Any]:
    """Arguments for one call of ``name``: the first listed security, NEPSE's index, the site's day, small pages."""
    params: dict[str, Any] = {}
    for param in CATALOGUE[name].params:
        if param.name == "security_id":
            params["security_id"] = session.security_id or 131
        elif param.name == "index_id":
            params["index_id"] = INDEX_ID
        elif param.name == "business_date" and param.required:
            params["business_date"] = session.business_date
        elif param.name == "size":
            params["size"] = 20
    return params
