"""The pool's shared memory of the site: one :class:`~nepse_ray.nepse.site.SiteMemory` in the coordinator, and each
worker's proxy of it.

A pool learns about a site change once, not once per worker: the coordinator holds the memory (:func:`pool_memory`:
it fetches ``css.wasm`` itself, with a client built from the pool's options, at most once per
``REFETCH_AFTER``), and every worker's clients share a :class:`WorkerSite` that asks it. A worker learns the decoder
in use when its first token is proved (one call to the coordinator), so a worker started after a heal reads its
first token right; a payload rule found by one worker reaches another the first time that one meets ``200 []``
(its claim answers ``use``). The coordinator's stats and metrics report the memory (:func:`site_fields`).
"""

from __future__ import annotations

import threading
from typing import Any

import ray

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.decoder import BUILTIN, DecoderSpec
from nepse_ray.nepse.payload import PayloadRule
from nepse_ray.nepse.site import SearchClaim, SiteMemory, SiteStatus
from nepse_ray.pool.errors import original_error
from nepse_ray.pool.options import PoolOptions

#: Seconds a worker waits for the coordinator's answer about the decoder (a heal may fetch css.wasm first).
HEAL_TIMEOUT = 60.0
#: Seconds a worker waits for the other answers (no I/O behind them).
ASK_TIMEOUT = 30.0


def pool_memory(options: PoolOptions) -> SiteMemory:
    """The coordinator's memory: it fetches the module through a client of the pool's own settings (TLS, base URL)."""

    def fetch_module() -> bytes:
        with NepseClient(**options.client_kwargs()) as client:
            return client.fetch_token_module()

    return SiteMemory(fetch_module)


def site_fields(status: SiteStatus) -> dict[str, Any]:
    """The ``PoolStats`` fields of the memory's status."""
    return {
        "token_decoder": status.decoder,
        "token_module_fetches": status.module_fetches,
        "healed_payload_ids": {endpoint: rule.describe() for endpoint, rule in status.healed.items()},
        "payload_heal_requests": status.payload_heal_requests,
    }


class WorkerSite:
    """A worker's view of the coordinator's memory (the :class:`~nepse_ray.nepse.site.Site` its clients share).

    The decoder and the rules it learned are kept here; asking the coordinator costs an actor call, made only when
    a token is first proved, when a token is refused, and when a signed page comes back empty.
    """

    def __init__(self, pool_name: str, namespace: str) -> None:
        self._pool_name, self._namespace = pool_name, namespace
        self._lock = threading.Lock()
        self._spec: DecoderSpec | None = None
        self._rules: dict[str, PayloadRule] = {}

    def _ask(self, method: str, *args: Any, timeout: float = ASK_TIMEOUT) -> Any:
        coordinator = ray.get_actor(self._pool_name, namespace=self._namespace)
        try:
            return ray.get(getattr(coordinator, method).remote(*args), timeout=timeout)
        except Exception as error:
            raise original_error(error) from None

    def decoder(self) -> DecoderSpec:
        with self._lock:
            if self._spec is None:
                try:
                    self._spec = self._ask("site_decoder")
                except Exception:  # no coordinator to ask (yet): the built-in decoder, healed on a refusal
                    return BUILTIN
            return self._spec

    def heal_decoder(self, failed: DecoderSpec) -> DecoderSpec:
        spec: DecoderSpec = self._ask("heal_decoder", failed, timeout=HEAL_TIMEOUT)
        with self._lock:
            self._spec = spec
        return spec

    def payload_rule(self, endpoint: str) -> PayloadRule | None:
        with self._lock:
            return self._rules.get(endpoint)

    def claim_search(self, endpoint: str) -> SearchClaim:
        claim: SearchClaim = self._ask("claim_payload_search", endpoint)
        if claim.rule is not None:
            with self._lock:
                self._rules[endpoint] = claim.rule
        return claim

    def report_search(self, endpoint: str, rule: PayloadRule | None, requests: int) -> None:
        if rule is not None:
            with self._lock:
                self._rules[endpoint] = rule
        self._ask("report_payload_search", endpoint, rule, requests)
