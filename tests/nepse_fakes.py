"""Test doubles for the NEPSE protocol layer: a fake clock, and a fake NEPSE behind the Transport interface.

``FakeNepse`` behaves like the site where the tests need it to: ``/prove`` hands out obfuscated tokens (each
with its own salts), ``/api/nots/*`` wants ``Salter <stripped token>``, and signed endpoints answer ``200 []``
unless the body id matches the salts of the token presented. Tests script exceptions to that with
:meth:`FakeNepse.script`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.payload import PayloadVariant, payload_id
from nepse_ray.nepse.tokens import insert_junk
from nepse_ray.nepse.transport import RawResponse

BASE_URL = "https://nepse.test"
PROVE_PATH = "/api/authenticate/prove"
MARKET_OPEN_PATH = "/api/nots/nepse-data/market-open"
SECURITY_PATH = "/api/nots/security"

#: Salts of successive proves: five-digit, distinct, none a substring of another's decimal form.
SALT_SETS: tuple[tuple[int, int, int, int, int], ...] = (
    (27431, 76353, 65229, 91802, 38487),
    (41597, 83161, 52973, 69413, 17239),
    (36821, 58247, 94613, 23759, 71163),
)


class FakeClock:
    """A monotonic clock moved by hand; ``sleep`` advances it and records the request."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass(frozen=True)
class Sent:
    """One request as the fake saw it."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    json_body: object | None

    @property
    def token(self) -> str | None:
        value = self.headers.get("Authorization")
        return None if value is None else value.removeprefix("Salter ")


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> RawResponse:
    return RawResponse(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


def html_response(status: int, text: str = "<html><body><h1>403 Forbidden</h1></body></html>") -> RawResponse:
    return RawResponse(status, {"Content-Type": "text/html"}, text.encode())


@dataclasses.dataclass
class Issued:
    """A token the fake handed out, with everything a test may want to look for in an error."""

    access_token: str
    obfuscated: str
    refresh_token: str
    salts: tuple[int, int, int, int, int]

    def secrets(self) -> list[str]:
        return [self.access_token, self.obfuscated, self.refresh_token, *(str(s) for s in self.salts)]


class FakeNepse:
    """An in-memory NEPSE implementing the ``Transport`` protocol."""

    def __init__(
        self,
        *,
        market_id: int = 80,
        day: int = 12,
        salt_sets: Sequence[tuple[int, int, int, int, int]] = SALT_SETS,
        bodies: Mapping[str, object] | None = None,
        signed: Mapping[str, PayloadVariant] | None = None,
        securities: Iterable[tuple[int, str]] = ((131, "NABIL"), (2790, "NICA")),
    ) -> None:
        self.market_id = market_id
        self.day = day
        self._salt_sets = itertools.cycle(salt_sets)
        self.bodies: dict[str, object] = dict(bodies or {})
        self.signed: dict[str, PayloadVariant] = dict(signed or {})
        self.securities = [{"id": i, "symbol": s, "securityName": s, "activeStatus": "A"} for i, s in securities]
        self.sent: list[Sent] = []
        self.issued: list[Issued] = []
        self._by_token: dict[str, Issued] = {}
        self._scripts: dict[str, list[RawResponse | NepseError]] = {}
        self._lock = threading.Lock()
        self.prove_gate: threading.Event | None = None  # when set, proves wait for it
        self.prove_entered = threading.Event()
        self.closed = False

    def script(self, path: str, *answers: RawResponse | NepseError) -> None:
        """Answer the next requests to ``path`` with ``answers`` (a NepseError is raised), then normally."""
        with self._lock:
            self._scripts.setdefault(path, []).extend(answers)

    def requests_to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]

    def expected_id(self, variant: PayloadVariant, token: str) -> int:
        return payload_id(variant, market_id=self.market_id, day=self.day, salts=self._by_token[token].salts)

    def secrets(self) -> list[str]:
        return [secret for issued in self.issued for secret in issued.secrets()]

    # -- Transport ----------------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]],
        json_body: object | None,
        timeout: tuple[float, float],
    ) -> RawResponse:
        path = urlsplit(url).path
        request = Sent(method, path, tuple(params), dict(headers), json_body)
        with self._lock:
            self.sent.append(request)
            queue = self._scripts.get(path)
            scripted = queue.pop(0) if queue else None
        if isinstance(scripted, NepseError):
            raise scripted
        if scripted is not None:
            return scripted
        if path == PROVE_PATH:
            return self._prove()
        if request.token not in self._by_token:
            return html_response(401, "<html>401 Unauthorized</html>")
        if path == MARKET_OPEN_PATH:
            return json_response({"isOpen": "OPEN", "asOf": "2026-04-02T12:22:25.746796", "id": self.market_id})
        if path == SECURITY_PATH:
            return json_response(self.securities)
        variant = self.signed.get(path)
        if variant is not None:
            body = json_body if isinstance(json_body, dict) else {}
            if body.get("id") != self.expected_id(variant, request.token or ""):
                return json_response([])
        if path in self.bodies:
            return json_response(self.bodies[path])
        return html_response(404, "<html>404 Not Found</html>")

    def close(self) -> None:
        self.closed = True

    def _prove(self) -> RawResponse:
        self.prove_entered.set()
        if self.prove_gate is not None and not self.prove_gate.wait(timeout=10):
            raise AssertionError("the test never opened the prove gate")
        with self._lock:
            salts = next(self._salt_sets)
            n = len(self.issued)
            access = f"access{n:03d}." + "A" * 150
            refresh = f"refresh{n:03d}." + "R" * 150
            issued = Issued(access, insert_junk(access, salts[1], "#$%&*"), refresh, salts)
            self.issued.append(issued)
            self._by_token[access] = issued
        body: dict[str, Any] = {
            "accessToken": issued.obfuscated,
            "refreshToken": insert_junk(refresh, salts[0], "#$%&*"),
            "salt": "Y-w.vG8,I*v5[*-S?i3n",
            "serverTime": 1_649_769_751_000,  # 2022: far from any local clock, and it must not matter
            "tokenType": "",
            "isDisplayActive": False,
            "popupDocFor": "",
            **{f"salt{i + 1}": s for i, s in enumerate(salts)},
        }
        return json_response(body)


# -- representative bodies of every endpoint (extra fields and the nulls the site sends included) -------

EXTRA = {"someNewField": "kept", "auditId": None}
PAGE = {"pageable": {"pageNumber": 0}, "totalPages": 3, "totalElements": 1200, "size": 500, "number": 0,
        "numberOfElements": 500, "first": True, "last": False, "empty": False, "sort": {"sorted": True}}  # fmt: skip
FLOOR_ROW = {
    "contractId": 2025103005017614, "stockSymbol": "SIKLES", "buyerMemberId": None, "sellerMemberId": "38",
    "contractQuantity": 200, "contractRate": 659.0, "contractAmount": 131800.0, "businessDate": "2025-10-30",
    "tradeBookId": 167823747, "stockId": 8126, "buyerBrokerName": None, "sellerBrokerName": None,
    "tradeTime": "2025-10-30T14:59:59.956739", "securityName": "Sikles Hydropower Limited", "id": None,
    "contractType": None,
}  # fmt: skip

SAMPLES: dict[str, Any] = {
    "market_open": {"isOpen": "CLOSE", "asOf": "2025-10-30T15:00:00", "id": 80, **EXTRA},
    "market_summary": [{"detail": "Total Turnover Rs:", "value": 53112.0, **EXTRA}, {"detail": "X", "value": 4}],
    "disclosures": {"exchangeMessages": [{"id": 1}], "companyNews": [], **EXTRA},
    "top_ten_trade": [{"symbol": "NABIL", "shareTraded": 100, "closingPrice": 500.5, "securityName": "N",
                       "securityId": 131, **EXTRA}],
    "top_ten_transaction": [{"securityId": 131, "totalTrades": 9, "lastTradedPrice": 500, "securityName": "N",
                             "symbol": "NABIL"}],
    "top_ten_turnover": [{"symbol": "NABIL", "turnover": 1e6, "closingPrice": 500, "securityName": "N",
                          "securityId": "131"}],
    "top_gainers": [{"symbol": "NABIL", "ltp": 510, "cp": 500, "pointChange": 10, "percentageChange": 2.0,
                     "securityName": "N", "securityId": 131, **EXTRA}],
    "top_losers": [{"symbol": "NICA", "ltp": None, "cp": 400, "pointChange": -4, "percentageChange": -1.0,
                    "securityId": 2790}],
    "nepse_index": [{"id": 58, "auditId": None, "exchangeIndexId": None, "generatedTime": "2026-04-02T12:22:33.123",
                     "index": "NEPSE Index", "close": 2650.1, "high": 2660, "low": 2640, "previousClose": 2645,
                     "change": 5.1, "perChange": 0.19, "fiftyTwoWeekHigh": 3000, "fiftyTwoWeekLow": 2000,
                     "currentValue": 2650.1}],
    "sub_indices": [{"id": 51, "index": "Banking SubIndex", "change": -1.5, "perChange": -0.1,
                     "currentValue": 1400.0}],
    "index_intraday_graph": [[1743571800, 2650.1], [1743571800, 2650.1], [1743571860, 2651.0]],
    "stock_intraday_graph": [{"contractQuantity": None, "contractRate": 659.0, "time": 1743571800}],
    "price_volume": [{"securityId": "2790", "securityName": "NIC Asia", "symbol": "NICA", "indexId": 58,
                      "totalTradeQuantity": 1000, "lastTradedPrice": 400, "percentageChange": 1.0,
                      "previousClose": 396, "closePrice": None, **EXTRA}],
    "security_list": [{"id": 131, "symbol": "NABIL", "securityName": "Nabil Bank", "name": "(NABIL) Nabil Bank",
                       "activeStatus": "A", **EXTRA}],
    "market_depth": {"totalBuyQty": 10, "totalSellQty": 20, "marketDepth": {"buyMarketDepthList": [
        {"stockId": 131, "orderBookOrderPrice": 500, "quantity": 10, "orderCount": 1, "isBuy": 1, "buy": True,
         "sell": False}], "sellMarketDepthList": []}, "symbol": "NABIL", "timeStamp": 1743571800, "version": 3},
    "supply_demand": {"supplyList": [{"totalQuantity": 5, "totalOrder": 1, "securityId": 131, "symbol": "NABIL",
                                      "securityName": "N"}], "demandList": []},
    "security_price_history": {"content": [{"businessDate": "2025-10-30", "totalTrades": 5,
                                            "totalTradedQuantity": 100, "totalTradedValue": 5e4,
                                            "highPrice": 510, "lowPrice": 490, "closePrice": 500, **EXTRA}],
                               **PAGE},
    "index_history": {"content": [{"id": 1, "businessDate": "2026-04-01", "exchangeIndexId": 58,
                                   "closingIndex": 2650.1, "openIndex": 2640, "highIndex": 2660, "lowIndex": 2630,
                                   "fiftyTwoWeekHigh": 3000, "fiftyTwoWeekLow": 2000, "turnoverValue": 1e9,
                                   "turnoverVolume": 1e6, "totalTransaction": 50000, "absChange": 5,
                                   "percentageChange": 0.2}], **PAGE},
    "daily_price_graph": [{"businessDate": "2025-10-30", "openPrice": 500, "highPrice": 510, "lowPrice": 490,
                           "previousDayClosePrice": 495, "fiftyTwoWeekHigh": 600, "lastTradedPrice": 500,
                           "totalTradedQuantity": 100, "closePrice": 500}],
    "company_list": [{"id": 131, "companyName": "Nabil Bank", "symbol": "NABIL", "securityName": "Nabil Bank",
                      "status": "A", "companyEmail": None, "website": None, "sectorName": "Commercial Banks",
                      "regulatoryBody": "NRB", "instrumentType": "Equity"}],
    "live_market": [{"securityId": "2790", "securityName": "NIC Asia", "symbol": "NICA", "indexId": 58,
                     "openPrice": 400, "highPrice": 410, "lowPrice": 395, "totalTradeQuantity": 100,
                     "totalTradeValue": 40000, "lastTradedPrice": 401, "percentageChange": 0.5,
                     "lastTradedVolume": 10, "previousClose": 399, "averageTradedPrice": 400.2,
                     "lastUpdatedDateTime": "2026-04-02 12:22:33.837549", "totalTradedVolume": 100,
                     "numberOfTrades": 7}],
    "security_detail": {"securityDailyTradeDto": {"securityId": "131", "businessDate": "2026-04-02",
                                                  "openPrice": 500, "closePrice": None,
                                                  "lastUpdatedDateTime": "2026-04-02T12:22:33.837549"},
                        "security": {"id": 131, "symbol": "NABIL", "instrumentType": {"code": "EQ"}},
                        "stockListedShares": 1e8, "paidUpCapital": 1e10, "securityId": 131, **EXTRA},
    "floorsheet": {"floorsheets": {"content": [FLOOR_ROW], **PAGE}, "totalAmount": 1e9, "totalQty": 5e6,
                   "totalTrades": 53112},
    "security_floorsheet": {"floorsheets": {"content": [], **PAGE, "totalPages": 0, "totalElements": 0}},
    "today_price": {"content": [{"id": None, "businessDate": "2026-04-02", "securityId": 131, "symbol": "NABIL",
                                 "securityName": "N", "openPrice": 500, "highPrice": 510, "lowPrice": 490,
                                 "closePrice": None, "totalTradedQuantity": 100, "totalTradedValue": 5e4,
                                 "previousDayClosePrice": 495, "fiftyTwoWeekHigh": 600, "fiftyTwoWeekLow": 400,
                                 "lastUpdatedTime": "2026-04-02T12:22:33", "lastUpdatedPrice": 501,
                                 "totalTrades": 9, "averageTradedPrice": 500.1, "marketCapitalization": 1e11}],
                    **PAGE},
}  # fmt: skip
