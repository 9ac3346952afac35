"""What nepse-ray learned about how the site differs from what it knows: the token decoder and healed payload ids.

One :class:`SiteMemory` serves every client that shares it: a :class:`~nepse_ray.nepse.client.NepseClient` has its
own by default; a pool's coordinator holds one for all its workers (``nepse_ray.pool.site``), so the pool fetches
``css.wasm`` once, not once per worker, and searches each endpoint's payload id once in its life.

* **Decoder.** :meth:`SiteMemory.heal_decoder` is asked when a freshly proved token is refused. Unless another
  client already healed (the spec it failed with is no longer current) or the module was fetched less than
  ``refetch_after`` seconds ago, it fetches the module, classifies it (:func:`~nepse_ray.nepse.decoder.classify_module`)
  and keeps the result; one fetch at a time (single flight). A refused module is remembered as well, and raised
  to every asker until the next fetch may be made.
* **Payload ids.** When every known rule of a signed endpoint got ``200 []``, a client asks
  :meth:`SiteMemory.claim_search`: ``use`` a rule another client found, ``search`` (this client tries the other
  rules once each and reports what worked with :meth:`SiteMemory.report_search`), ``wait`` (another client is
  searching) or ``exhausted`` (a search found nothing: not searched again). So an endpoint costs at most
  variants x day terms extra requests in the life of whatever shares the memory.

Everything here is counts, names and rules: no token, salt or payload id. Time comes from an injected clock.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol

from .decoder import BUILTIN, DecoderName, DecoderSpec, classify_module
from .errors import NepseDecoderError, NepseError
from .payload import PayloadRule

#: Seconds after a fetch of css.wasm before a refused token may fetch it again.
REFETCH_AFTER = 300.0
#: Seconds a payload search may take before another client may search the endpoint instead.
SEARCH_TIMEOUT = 120.0

Verdict = Literal["use", "search", "wait", "exhausted"]


@dataclasses.dataclass(frozen=True, slots=True)
class SearchClaim:
    """The answer to :meth:`SiteMemory.claim_search`; ``rule`` is set with ``use``."""

    verdict: Verdict
    rule: PayloadRule | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SiteStatus:
    """A snapshot for stats, metrics and the doctor."""

    decoder: DecoderName = "builtin"
    module_sha256: str | None = None
    module_fetches: int = 0
    healed: dict[str, PayloadRule] = dataclasses.field(default_factory=dict)
    exhausted: tuple[str, ...] = ()
    payload_heal_requests: int = 0


class Site(Protocol):
    """What a client asks of the memory it shares (a :class:`SiteMemory`, or a pool worker's proxy of one)."""

    def decoder(self) -> DecoderSpec: ...

    def heal_decoder(self, failed: DecoderSpec) -> DecoderSpec: ...

    def payload_rule(self, endpoint: str) -> PayloadRule | None: ...

    def claim_search(self, endpoint: str) -> SearchClaim: ...

    def report_search(self, endpoint: str, rule: PayloadRule | None, requests: int) -> None: ...


class SiteMemory:
    """The shared memory (see the module docstring); thread-safe. ``fetch_module()`` returns the served css.wasm's
    bytes; without it the decoder stays what it is."""

    def __init__(
        self,
        fetch_module: Callable[[], bytes] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        refetch_after: float = REFETCH_AFTER,
        search_timeout: float = SEARCH_TIMEOUT,
    ) -> None:
        self._fetch_module = fetch_module
        self._clock = clock
        self._refetch_after = refetch_after
        self._search_timeout = search_timeout
        self._heal_lock = threading.Lock()  # held while fetching: one fetch at a time
        self._lock = threading.Lock()  # guards the payload state below; never held while fetching
        self._spec = BUILTIN
        self._fetched_at: float | None = None
        self._fetches = 0
        self._refusal: NepseDecoderError | None = None
        self._rules: dict[str, PayloadRule] = {}
        self._exhausted: set[str] = set()
        self._searching: dict[str, float] = {}
        self._heal_requests = 0

    # -- the decoder ---------------------------------------------------------------------------------------

    def decoder(self) -> DecoderSpec:
        return self._spec

    def heal_decoder(self, failed: DecoderSpec) -> DecoderSpec:
        """The decoder to use after ``failed`` gave a token the site refused (fetching the module if it is time)."""
        with self._heal_lock:
            if self._spec != failed:
                return self._spec
            recent = self._fetched_at is not None and self._clock() - self._fetched_at < self._refetch_after
            if recent or self._fetch_module is None:
                if self._refusal is not None:
                    raise self._refusal
                return self._spec
            try:
                return self._refresh()
            except NepseDecoderError:
                raise
            except NepseError:  # the module could not be fetched: the refusal stands as it was
                return self._spec

    def refresh(self) -> DecoderSpec:
        """Fetch and classify the module now (what the doctor asks); raises :class:`NepseDecoderError` if refused,
        or the fetch's error."""
        with self._heal_lock:
            return self._refresh()

    def _refresh(self) -> DecoderSpec:
        if self._fetch_module is None:
            return self._spec
        self._fetched_at = self._clock()
        self._fetches += 1
        data = self._fetch_module()
        try:
            self._spec, self._refusal = classify_module(data), None
        except NepseDecoderError as refused:
            self._refusal = refused
            raise
        return self._spec

    # -- payload ids ---------------------------------------------------------------------------------------

    def payload_rule(self, endpoint: str) -> PayloadRule | None:
        with self._lock:
            return self._rules.get(endpoint)

    def claim_search(self, endpoint: str) -> SearchClaim:
        with self._lock:
            rule = self._rules.get(endpoint)
            if rule is not None:
                return SearchClaim("use", rule)
            if endpoint in self._exhausted:
                return SearchClaim("exhausted")
            now = self._clock()
            started = self._searching.get(endpoint)
            if started is not None and now - started < self._search_timeout:
                return SearchClaim("wait")
            self._searching[endpoint] = now
            return SearchClaim("search")

    def report_search(self, endpoint: str, rule: PayloadRule | None, requests: int) -> None:
        """A search of ``endpoint`` ended: ``rule`` worked (``None``: nothing did) after ``requests`` requests."""
        with self._lock:
            self._searching.pop(endpoint, None)
            self._heal_requests += requests
            if rule is not None:
                self._rules[endpoint] = rule
            else:
                self._exhausted.add(endpoint)

    def status(self) -> SiteStatus:
        with self._lock:
            return SiteStatus(
                decoder=self._spec.name,
                module_sha256=self._spec.sha256,
                module_fetches=self._fetches,
                healed=dict(self._rules),
                exhausted=tuple(sorted(self._exhausted)),
                payload_heal_requests=self._heal_requests,
            )
