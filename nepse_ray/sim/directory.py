"""The simulator's per-security details and directories: what the site says about a security, a sector, an index.

* ``POST security/{id}`` (signed): ``{securityDailyTradeDto, security, ...}``, the company page's header;
* ``GET security/{id}``: ``{securityData, securityMcsData}``, the Market Depth page's header: the same day of
  trading (``securityMcsData`` is the ``securityDailyTradeDto`` of the POST) and a flat summary of the security;
* ``GET securities``: every security as ``{securityId, securityName, securitySymbol}``;
* ``GET index``: the 17 indices with their codes and sectors;
* ``GET application/dividend/{id}``: the security's dividend announcements (cash, bonus and right shares per
  fiscal year, the year named in Bikram Sambat as the site does);
* ``GET sectorwise``: the day's turnover, volume and transactions per sector.

As on the site, the day's close reads ``0`` while the market is open and a security listed today shows ``0`` as
its previous close.

>>> import datetime as dt, json
>>> from .market import build_market
>>> market = build_market(seed=1, trades=1000, business_date=dt.date(2025, 10, 30), market_open=False)
>>> [row["indexCode"] for row in json.loads(DirectoryBodies(market).index_list())][:3]
['BANKING', 'HOTELSTOURISM', 'OTHERS']
"""

from __future__ import annotations

import collections
import datetime as dt
import random

from .market import INDICES, SECTORS, Market, Security
from .wire import EncodedBodies, Json, encode

_KEY_INDICES = frozenset({57, 58, 62, 63})
_DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
#: Bikram Sambat runs about 56 years 8 months ahead; Nepal's fiscal year starts in mid-July (Shrawan).
_BS_OFFSET = 57


class DirectoryBodies(EncodedBodies):
    """The detail and directory endpoints of one market."""

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.market = market

    # -- one security ---------------------------------------------------------------------------------------

    def _daily_trade(self, security: Security) -> Json:
        """The security's business day as both detail endpoints send it."""
        m, stats = self.market, self.market.day_stats.get(security.id)
        price = stats.close if stats else security.previous_close
        return {
            "securityId": str(security.id),
            "businessDate": m.business_date.isoformat(),
            "openPrice": stats.open if stats else None,
            "highPrice": stats.high if stats else None,
            "lowPrice": stats.low if stats else None,
            "totalTradeQuantity": stats.quantity if stats else 0,
            "totalTrades": stats.trades if stats else 0,
            "lastTradedPrice": price,
            "previousClose": stats.previous_close_or_zero if stats else security.previous_close,
            "closePrice": 0 if m.market_open else price,
            "fiftyTwoWeekHigh": security.year_high,
            "fiftyTwoWeekLow": security.year_low,
            "lastUpdatedDateTime": m.trade_time_text(stats.last_trade_seq) if stats else None,
        }

    def security_detail(self, security_id: int) -> bytes | None:
        """``POST security/{id}``."""
        security = self.market.security_by_id.get(security_id)
        if security is None:
            return None
        sector = security.sector
        stats = self.market.day_stats.get(security_id)
        price = stats.close if stats else security.previous_close
        promoter_pct = 51.0 if sector else 100.0
        return encode(
            {
                "securityDailyTradeDto": self._daily_trade(security),
                "security": {
                    "id": security_id,
                    "symbol": security.symbol,
                    "isin": _isin(security),
                    "permittedToTrade": "Y",
                    "listingDate": "2012-07-15",
                    "instrumentType": {
                        "id": 1,
                        "code": "EQ" if security.instrument_type == "Equity" else "MF",
                        "description": security.instrument_type,
                        "activeStatus": "A",
                    },
                    "companyId": {
                        "id": security.company_id,
                        "companyShortName": security.name,
                        "companyName": security.name,
                        "email": _email(security),
                        "companyWebsite": f"https://www.{security.symbol.lower()}.com.np",
                        "sectorMaster": {
                            "id": sector.index_id if sector else None,
                            "sectorDescription": _sector_name(security),
                            "activeStatus": "A",
                            "regulatoryBody": sector.regulatory_body if sector else None,
                        },
                        "activeStatus": security.active_status,
                    },
                    "faceValue": _face_value(security),
                    "tickSize": 0.1,
                    "securityName": security.name,
                    "isPromoter": "N" if sector else "Y",
                },
                "securityId": security_id,
                "stockListedShares": float(security.listed_shares),
                "paidUpCapital": float(security.listed_shares * 100),
                "issuedCapital": float(security.listed_shares * 100),
                "marketCapitalization": round(price * security.listed_shares, 2),
                "publicShares": round(security.listed_shares * (100 - promoter_pct) / 100),
                "publicPercentage": 100 - promoter_pct,
                "promoterShares": round(security.listed_shares * promoter_pct / 100),
                "promoterPercentage": promoter_pct,
                "updatedDate": self.market.business_date.isoformat(),
            }
        )

    def security_data(self, security_id: int) -> bytes | None:
        """``GET security/{id}``."""
        security = self.market.security_by_id.get(security_id)
        if security is None:
            return None
        return encode(
            {
                "securityData": {
                    "id": security_id,
                    "symbol": security.symbol,
                    "securityName": security.name,
                    "isin": _isin(security),
                    "activeStatus": security.active_status,
                    "permittedToTrade": "Y",
                    "listingDate": "2012-07-15",
                    "faceValue": _face_value(security),
                    "email": _email(security),
                    "sector": _sector_name(security),
                    "instrumentType": security.instrument_type,
                },
                "securityMcsData": self._daily_trade(security),
            }
        )

    def dividends(self, security_id: int) -> bytes | None:
        """``GET application/dividend/{id}``: up to three fiscal years' announcements, newest first."""
        security = self.market.security_by_id.get(security_id)
        if security is None:
            return None
        rng = random.Random(f"nepse-sim:{self.market.seed}:dividends:{security_id}")
        ad_year = self.market.business_date.year - (self.market.business_date.month < 7)
        records = []
        for k in range(rng.randint(0, 3) if security.sector else 0):
            start = ad_year - 1 - k
            cash, bonus = rng.choice((2.5, 5.0, 10.0, 12.5, 15.0, 20.0)), rng.choice((0, 0, 5, 10))
            announced = dt.date(start + 1, 10, 1) + dt.timedelta(days=rng.randrange(90))
            records.append(
                {
                    "id": security_id * 10 + k,
                    "activeStatus": "A",
                    "modifiedDate": f"{announced.isoformat()}T10:00:00",
                    "applicationType": 5,
                    "applicationStatus": 3,
                    "companyNews": {
                        "id": 50_000 + security_id * 10 + k,
                        "newsSource": security.name,
                        "newsHeadline": f"{security.name} proposes {cash}% cash and {bonus}% bonus dividend",
                        "newsBody": "The board of directors proposed the dividend, subject to the AGM's approval.",
                        "newsType": "Dividend",
                        "addedDate": f"{announced.isoformat()}T09:30:00",
                        "expiryDate": (announced + dt.timedelta(days=30)).isoformat(),
                        "dividendsNotice": {
                            "id": 7_000 + security_id * 10 + k,
                            "financialYear": _fiscal_year(start),
                            "cashDividend": cash,
                            "bonusShare": float(bonus),
                            "rightShare": 0.0,
                            "remarks": None,
                        },
                        "security": {"id": security_id, "symbol": security.symbol, "faceValue": _face_value(security)},
                    },
                }
            )
        return encode(records)

    # -- directories ---------------------------------------------------------------------------------------

    def securities(self) -> bytes:
        """``GET securities``: every security, delisted ones too."""

        def build() -> Json:
            return [
                {"securityId": s.id, "securityName": s.name, "securitySymbol": s.symbol} for s in self.market.securities
            ]

        return self._cached("securities", build)

    def index_list(self) -> bytes:
        """``GET index``: the 17 indices; the sector ones name their sector."""
        sectors = {sector.index_id: sector for sector in SECTORS}

        def build() -> Json:
            rows = []
            for index_id, (name, level) in INDICES.items():
                sector = sectors.get(index_id)
                rows.append(
                    {
                        "id": index_id,
                        "indexCode": _index_code(name),
                        "indexName": name,
                        "description": f"All {sector.name} Index" if sector else name,
                        "sectorMaster": None
                        if sector is None
                        else {
                            "id": index_id - 10,
                            "sectorDescription": sector.name,
                            "activeStatus": "A",
                            "regulatoryBody": sector.regulatory_body,
                        },
                        "activeStatus": "A",
                        "keyIndexFlag": "Y" if index_id in _KEY_INDICES else "N",
                        "baseYearMarketCapitalization": round(level * 7.31, 4),
                    }
                )
            return rows

        return self._cached("index_list", build)

    def sector_summary(self) -> bytes:
        """``GET sectorwise``: the day's trading per sector, largest turnover first."""

        def build() -> Json:
            totals: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
            for stats in self.market.day_stats.values():
                row = totals[_sector_name(stats.security)]
                row[0] += stats.turnover
                row[1] += stats.quantity
                row[2] += stats.trades
            day = self.market.business_date.isoformat()
            return [
                {
                    "businessDate": day,
                    "sectorName": name,
                    "turnOverValues": round(value, 2),
                    "turnOverVolume": volume,
                    "totalTransaction": int(trades),
                }
                for name, (value, volume, trades) in sorted(totals.items(), key=lambda item: -item[1][0])
            ]

        return self._cached("sector_summary", build)


def _isin(security: Security) -> str:
    return f"NPE{security.id:06d}A00{security.id % 10}"


def _email(security: Security) -> str:
    return f"info@{security.symbol.lower()}.com.np"


def _face_value(security: Security) -> float:
    return 10.0 if security.instrument_type == "Mutual Funds" else 100.0


def _sector_name(security: Security) -> str:
    return security.sector.name if security.sector else "Promoter Share"


def _index_code(name: str) -> str:
    words = [w for w in name.upper().replace("SUBINDEX", "").split() if w not in ("INDEX", "AND", "OF")]
    return "".join(words) or name.upper()


def _fiscal_year(ad_start: int) -> Json:
    bs = ad_start + _BS_OFFSET
    name = f"{bs}/{bs + 1}"
    return {"id": bs, "fyName": name, "fyNameNepali": name.translate(_DEVANAGARI), "fromYear": bs, "toYear": bs + 1}
