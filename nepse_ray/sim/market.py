"""A deterministic synthetic NEPSE market: companies, securities, brokers, indices and one day of trades.

Everything is drawn from ``random.Random`` streams named after the seed, so one seed gives the same market in
every process. :func:`build_market` caches markets by their parameters (they are immutable), so many
simulators in one test session share the few seconds of generation.

Shape, as the real site shows it: ~600 companies in the 13 sectors (ordinary scrips share their id with their
security), ~550 non-delisted securities (plus promoter shares, which are only in the security list, and ~100
delisted ones shown with ``nonDelisted=false``), 90 brokers, indices 51..67, and a floorsheet of ``trades`` rows
for the business day, in contract order (seq 1 = first trade of the day), plus any trades kept back for live
arrivals.

>>> market = build_market(seed=1, trades=1000, business_date=dt.date(2025, 10, 30), market_open=False)
>>> len(market.trades), market.contract_id(0)
(1000, 2025103005000001)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import random
from collections.abc import Sequence

from ..nepse.payload import NEPAL_TZ

SESSION_START = dt.time(11, 0)
SESSION_END = dt.time(15, 0)
#: The "as of" moment of an open market: the time of an intraday answer observed on the real site.
OPEN_AS_OF = dt.time(12, 22, 25, 746796)
#: Sunday..Thursday: the NEPSE trading week (Python's Monday = 0).
TRADING_WEEKDAYS = frozenset({6, 0, 1, 2, 3})
HISTORY_DAYS = 500
BROKERS = 90
#: Securities of the day that trade for the first time (the site shows their previous close as 0).
NEW_LISTINGS = 2


@dataclasses.dataclass(frozen=True, slots=True)
class Sector:
    name: str
    index_id: int
    regulatory_body: str
    suffix: str
    code: str
    companies: int
    price_range: tuple[float, float]
    instrument_type: str = "Equity"


SECTORS: tuple[Sector, ...] = (
    Sector("Commercial Banks", 51, "Nepal Rastra Bank", "Bank Limited", "BL", 20, (180, 700)),
    Sector("Hotels And Tourism", 52, "Department of Tourism", "Hotels Limited", "HL", 10, (300, 900)),
    Sector("Others", 53, "Securities Board of Nepal", "Limited", "L", 20, (200, 1500)),
    Sector("Hydro Power", 54, "Electricity Regulatory Commission", "Hydropower Limited", "HPL", 180, (150, 900)),
    Sector("Development Banks", 55, "Nepal Rastra Bank", "Development Bank Limited", "DBL", 40, (250, 800)),
    Sector("Manufacturing And Processing", 56, "Department of Industry", "Industries Limited", "IL", 40, (300, 9000)),
    Sector("Non Life Insurance", 59, "Nepal Insurance Authority", "Insurance Limited", "IC", 25, (450, 1200)),
    Sector("Finance", 60, "Nepal Rastra Bank", "Finance Limited", "FL", 30, (250, 900)),
    Sector("Tradings", 61, "Department of Commerce", "Trading Limited", "TL", 8, (500, 4000)),
    Sector("Microfinance", 64, "Nepal Rastra Bank", "Laghubitta Bittiya Sanstha Limited", "LBSL", 110, (500, 3000)),
    Sector("Life Insurance", 65, "Nepal Insurance Authority", "Life Insurance Limited", "LIC", 25, (400, 1400)),
    Sector("Mutual Fund", 66, "Securities Board of Nepal", "Mutual Fund", "MF", 70, (8, 14), "Mutual Funds"),
    Sector("Investment", 67, "Securities Board of Nepal", "Investment Limited", "IVL", 22, (250, 1800)),
)

#: id -> (name, level on a typical day). 57, 58, 62, 63 are served by ``nepse-index``; the rest by ``/api/nots``.
INDICES: dict[int, tuple[str, float]] = {
    51: ("Banking SubIndex", 1400.0),
    52: ("Hotels And Tourism Index", 6900.0),
    53: ("Others Index", 2300.0),
    54: ("HydroPower Index", 3400.0),
    55: ("Development Bank Index", 5400.0),
    56: ("Manufacturing And Processing", 7200.0),
    57: ("Sensitive Index", 480.0),
    58: ("NEPSE Index", 2700.0),
    59: ("Non Life Insurance", 11900.0),
    60: ("Finance Index", 2400.0),
    61: ("Trading Index", 4100.0),
    62: ("Float Index", 185.0),
    63: ("Sensitive Float Index", 160.0),
    64: ("Microfinance Index", 5100.0),
    65: ("Life Insurance", 13000.0),
    66: ("Mutual Fund", 21.0),
    67: ("Investment Index", 100.0),
}
MAIN_INDEX_IDS = (58, 57, 62, 63)
SUB_INDEX_IDS = tuple(i for i in INDICES if i not in MAIN_INDEX_IDS)

_NAME_WORDS = (
    "Himalayan Everest Kumari Sanima Machhapuchchhre Laxmi Siddhartha Prabhu Global Citizens Sunrise Janata Mega "
    "Civil Kamana Garima Shine Muktinath Jyoti Mahalaxmi Lumbini Kailash Shangrila Saptakoshi Gandaki Karnali "
    "Bagmati Api Arun Tamakoshi Dordi Sikles Barun Chilime Sanjen Rasuwa Mountain Ridi Radhi Nyadi Butwal Pokhara "
    "Chitwan Dhaulagiri Annapurna Manaslu Makalu Kanchan Mithila Janakpur Bhaktapur Lalitpur Nerude Swabalamban "
    "Forward Chhimek Nirdhan Kisan Unnati Samata Asha Ganapati Sarathi Shikhar Prudential Sagarmatha Siddhi "
    "Rastriya Bishal Guheshwori Reliance Sindhu Shivam Ghorahi Sonapur Trishuli Bhote Kalika Dibyaswari Ankhu "
    "Madi Panchakanya Solu Balephi Mabilung Khanikhola Rairang Suryodaya Sahas Joshi Union Taragaon Oriental"
)
_WORDS = tuple(_NAME_WORDS.split())
_BROKER_ENDINGS = ("Securities Private Limited", "Stock Broking Company Limited", "Capital Limited")
_LOTS = (10, 20, 25, 30, 40, 50, 60, 75, 100, 120, 150, 200, 250, 300, 500, 700, 1000, 1500, 2000, 5000)
_LOT_WEIGHTS = (14, 12, 5, 6, 5, 11, 4, 3, 10, 3, 3, 6, 3, 3, 4, 1, 3, 1, 1, 0.5)


@dataclasses.dataclass(frozen=True, slots=True)
class Company:
    id: int
    name: str
    symbol: str
    sector: Sector
    status: str  # "A" active, "D" delisted, "S" suspended


@dataclasses.dataclass(frozen=True, slots=True)
class Security:
    id: int
    symbol: str
    name: str
    active_status: str  # "A", "I" (delisted), "S"
    sector: Sector | None  # None: promoter share
    company_id: int | None
    previous_close: float
    listed_shares: int
    year_high: float
    year_low: float

    @property
    def instrument_type(self) -> str:
        return self.sector.instrument_type if self.sector else "Equity"


@dataclasses.dataclass(frozen=True, slots=True)
class Broker:
    number: int
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class DayStats:
    """One security's trading on the business day, aggregated from the floorsheet.

    ``previous_close`` is None on a security's first day (its trades start from ``security.previous_close``, the
    listing's reference price, but it has no previous session); its change is then 0, as the site shows it.
    """

    security: Security
    open: float
    high: float
    low: float
    close: float
    quantity: int
    turnover: float
    trades: int
    last_trade_seq: int  # index of the last trade in the day's contract order
    previous_close: float | None

    @property
    def previous_close_or_zero(self) -> float:
        """The previous close as the site writes it: 0 on a security's first day."""
        return 0.0 if self.previous_close is None else self.previous_close

    @property
    def change(self) -> float:
        return 0.0 if self.previous_close is None else round(self.close - self.previous_close, 2)

    @property
    def percentage_change(self) -> float:
        return 0.0 if self.previous_close is None else round(100 * self.change / self.previous_close, 2)


@dataclasses.dataclass(frozen=True, slots=True)
class Trades:
    """The day's floorsheet as columns, in contract order (index i is contract sequence i + 1)."""

    security: Sequence[int]  # security id
    quantity: Sequence[int]
    rate: Sequence[float]
    buyer: Sequence[int]
    seller: Sequence[int]
    micros: Sequence[int]  # microseconds since the session start

    def __len__(self) -> int:
        return len(self.security)


@dataclasses.dataclass(frozen=True, slots=True)
class DailyBar:
    business_date: dt.date
    open: float
    high: float
    low: float
    close: float
    previous_close: float
    quantity: int
    turnover: float
    trades: int


@dataclasses.dataclass(frozen=True, slots=True)
class IndexDay:
    business_date: dt.date
    open: float
    high: float
    low: float
    close: float
    previous_close: float
    turnover: float
    volume: float
    transactions: int


def history_window_start(latest: dt.date) -> dt.date:
    """The oldest day of a security's price history the site gives: one year before its latest trading day.

    Observed: asked for 2020-01-01..2024-12-31 on 2025-12-04 (latest session 2025-12-03), the site answered only
    2024-12-03..2024-12-31, whatever ``startDate`` said.
    """
    try:
        return latest.replace(year=latest.year - 1)
    except ValueError:  # 29 February
        return latest.replace(year=latest.year - 1, day=28)


def default_business_date(today: dt.date) -> dt.date:
    """The latest trading day (Sunday..Thursday) on or before ``today``."""
    day = today
    while day.weekday() not in TRADING_WEEKDAYS:
        day -= dt.timedelta(days=1)
    return day


def previous_trading_days(last: dt.date, count: int) -> list[dt.date]:
    """``count`` trading days before ``last``, oldest first."""
    days: list[dt.date] = []
    day = last
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() in TRADING_WEEKDAYS:
            days.append(day)
    days.reverse()
    return days


def _unique_symbol(wanted: str, taken: set[str]) -> str:
    symbol, n = wanted, 0
    while symbol in taken:
        n += 1
        symbol = wanted[:-1] + chr(ord("A") + n % 26) if n < 26 else f"{wanted}{n}"
    taken.add(symbol)
    return symbol


class Market:
    """The served market. Build it with :func:`build_market`; never mutated afterwards."""

    def __init__(self, seed: int, trades: int, business_date: dt.date, market_open: bool, live: int = 0) -> None:
        self.seed = seed
        self.initial_trades = trades
        self.business_date = business_date
        self.market_open = market_open
        rng = random.Random(f"nepse-sim:{seed}:listing")
        self.companies, self.securities = self._listing(rng)
        self.security_by_id = {s.id: s for s in self.securities}
        self.brokers = tuple(
            Broker(n, f"{rng.choice(_WORDS)} {rng.choice(_BROKER_ENDINGS)}") for n in range(1, BROKERS + 1)
        )
        self.index_levels = {i: level * rng.uniform(0.9, 1.1) for i, (_, level) in INDICES.items()}
        self.index_changes = {i: rng.gauss(0, 0.008) for i in INDICES}
        end = SESSION_END if not market_open else OPEN_AS_OF
        self.session_start = dt.datetime.combine(business_date, SESSION_START, NEPAL_TZ)
        self.session_end = dt.datetime.combine(business_date, end, NEPAL_TZ)
        self.trades = self._trades(random.Random(f"nepse-sim:{seed}:trades:{business_date}"), trades + live)
        traded = sorted(set(self.trades.security[:trades]))
        picker = random.Random(f"nepse-sim:{seed}:new-listings:{business_date}")
        self.new_listings = frozenset(picker.sample(traded, min(NEW_LISTINGS, len(traded))))
        self.day_stats = self._day_stats()

    # -- listing ---------------------------------------------------------------------------------------------

    def _listing(self, rng: random.Random) -> tuple[tuple[Company, ...], tuple[Security, ...]]:
        total = sum(sector.companies for sector in SECTORS)
        ids = rng.sample(range(100, 10_000), total + 60)
        taken: set[str] = set()
        names: set[str] = set()
        companies: list[Company] = []
        securities: list[Security] = []
        statuses = ["A"] * (total - 110) + ["D"] * 100 + ["S"] * 10
        rng.shuffle(statuses)
        for sector in SECTORS:
            for _ in range(sector.companies):
                first, second = rng.choice(_WORDS), rng.choice(_WORDS)
                name = f"{first} {sector.suffix}"
                if name in names:
                    name = f"{first} {second} {sector.suffix}"
                while name in names:
                    name = f"{first} {second} {rng.choice(_WORDS)} {sector.suffix}"
                names.add(name)
                symbol = _unique_symbol((first[:3] + sector.code).upper(), taken)
                status = statuses[len(companies)]
                company = Company(ids[len(companies)], name, symbol, sector, status)
                companies.append(company)
                securities.append(self._security(rng, company.id, symbol, name, status, sector))
        for sid, owner in zip(ids[total:], rng.sample(companies, len(ids) - total), strict=True):
            symbol = _unique_symbol(owner.symbol + "PO", taken)
            securities.append(self._security(rng, sid, symbol, f"{owner.name} Promoter Share", "A", None))
        return tuple(companies), tuple(sorted(securities, key=lambda s: s.id))

    @staticmethod
    def _security(rng: random.Random, sid: int, symbol: str, name: str, status: str, sector: Sector | None) -> Security:
        low, high = sector.price_range if sector else (100.0, 600.0)
        price = round(math.exp(rng.uniform(math.log(low), math.log(high))), 1)
        return Security(
            id=sid,
            symbol=symbol,
            name=name,
            active_status={"D": "I"}.get(status, status),
            sector=sector,
            company_id=sid if sector else None,
            previous_close=price,
            listed_shares=rng.randrange(1_000_000, 300_000_000, 100),
            year_high=round(price * rng.uniform(1.05, 1.9), 1),
            year_low=round(price * rng.uniform(0.55, 0.95), 1),
        )

    # -- the day's trades ------------------------------------------------------------------------------------

    def _trades(self, rng: random.Random, count: int) -> Trades:
        traded = [s for s in self.securities if s.active_status == "A" and s.sector is not None and rng.random() < 0.62]
        rng.shuffle(traded)
        weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(traded))]
        chosen = rng.choices(range(len(traded)), weights=weights, k=count)
        drift = [rng.uniform(-0.08, 0.08) for _ in traded]
        span = int((self.session_end - self.session_start).total_seconds() * 1_000_000)
        micros = sorted(rng.randrange(span) for _ in range(count))
        rates: list[float] = []
        for i, k in enumerate(chosen):
            progress = micros[i] / span
            move = drift[k] * progress + (rng.random() - 0.5) * 0.01
            rates.append(max(0.1, round(traded[k].previous_close * (1 + move), 1)))
        return Trades(
            security=[traded[k].id for k in chosen],
            quantity=rng.choices(_LOTS, weights=_LOT_WEIGHTS, k=count),
            rate=rates,
            buyer=rng.choices(range(1, BROKERS + 1), k=count),
            seller=rng.choices(range(1, BROKERS + 1), k=count),
            micros=micros,
        )

    def _day_stats(self) -> dict[int, DayStats]:
        acc: dict[int, list[float]] = {}
        t = self.trades
        for i in range(self.initial_trades):
            sid, rate, qty = t.security[i], t.rate[i], t.quantity[i]
            row = acc.get(sid)
            if row is None:
                acc[sid] = [rate, rate, rate, rate, qty, qty * rate, 1, i]
            else:
                row[1] = max(row[1], rate)
                row[2] = min(row[2], rate)
                row[3] = rate
                row[4] += qty
                row[5] += qty * rate
                row[6] += 1
                row[7] = i
        return {
            sid: DayStats(
                self.security_by_id[sid],
                o,
                h,
                low,
                c,
                int(q),
                round(value, 2),
                int(n),
                int(last),
                None if sid in self.new_listings else self.security_by_id[sid].previous_close,
            )
            for sid, (o, h, low, c, q, value, n, last) in sorted(acc.items())
        }

    # -- derived views ---------------------------------------------------------------------------------------

    def contract_id(self, index: int) -> int:
        """16 digits: YYYYMMDD, the two digits 05, and the 6-digit sequence of the trade."""
        return int(self.business_date.strftime("%Y%m%d")) * 100_000_000 + 5_000_000 + index + 1

    def trade_time(self, index: int) -> dt.datetime:
        return self.session_start + dt.timedelta(microseconds=self.trades.micros[index])

    def trade_time_text(self, index: int, separator: str = "T") -> str:
        """The trade's time as the site writes it: Nepal wall-clock time, no zone, microseconds."""
        return self.trade_time(index).strftime(f"%Y-%m-%d{separator}%H:%M:%S.%f")

    @functools.cached_property
    def trades_by_security(self) -> dict[int, list[int]]:
        """security id -> trade indices in contract order."""
        out: dict[int, list[int]] = {}
        for i, sid in enumerate(self.trades.security):
            out.setdefault(sid, []).append(i)
        return out

    def history(self, security: Security) -> list[DailyBar]:
        """Daily bars before the business day (oldest first), ending at the security's previous close; none for
        a security listed on the business day."""
        return [] if security.id in self.new_listings else _security_history(self, security.id)

    def index_history(self, index_id: int) -> list[IndexDay]:
        """Daily values of one index before the business day, oldest first."""
        return _index_history(self, index_id)

    def index_today(self, index_id: int) -> IndexDay:
        """The business day of one index: from the previous close to the last intraday value, with the day's
        market-wide turnover, volume and transactions."""
        values = [v for _, v in self.index_intraday(index_id)]
        previous = self.index_levels[index_id]
        stats = self.day_stats.values()
        return IndexDay(
            self.business_date,
            round(previous, 2),
            max(values),
            min(values),
            values[-1],
            previous,
            round(sum(s.turnover for s in stats), 2),
            float(sum(s.quantity for s in stats)),
            self.initial_trades,
        )

    def capitalization(self) -> float:
        """Rs of every active security at its last price (today's close when it traded)."""
        total = 0.0
        for security in self.securities:
            if security.active_status == "A":
                stats = self.day_stats.get(security.id)
                total += (stats.close if stats else security.previous_close) * security.listed_shares
        return total

    def index_intraday(self, index_id: int) -> list[tuple[int, float]]:
        """``[epochSeconds, value]`` every 30 s of the session, from yesterday's close to today's value."""
        rng = random.Random(f"nepse-sim:{self.seed}:index-intraday:{index_id}:{self.business_date}")
        start, level = int(self.session_start.timestamp()), self.index_levels[index_id]
        steps = int((self.session_end - self.session_start).total_seconds()) // 30
        target = level * (1 + self.index_changes[index_id])
        points: list[tuple[int, float]] = []
        value = level
        for k in range(steps + 1):
            value += (target - value) / max(1, steps - k + 1) + rng.gauss(0, level * 0.0004)
            points.append((start + 30 * k, round(value, 2)))
        return points


@functools.lru_cache(maxsize=4096)
def _security_history(market: Market, security_id: int) -> list[DailyBar]:
    security = market.security_by_id[security_id]
    rng = random.Random(f"nepse-sim:{market.seed}:history:{security_id}")
    days = previous_trading_days(market.business_date, HISTORY_DAYS)
    bars: list[DailyBar] = []
    close = security.previous_close
    for day in reversed(days):
        previous = max(0.1, round(close / (1 + rng.gauss(0, 0.015)), 1))
        open_ = round(previous * (1 + rng.gauss(0, 0.005)), 1)
        high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.008))), 1)
        low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.008))), 1)
        quantity = rng.randrange(100, 200_000, 10)
        trades = max(1, quantity // rng.randint(50, 400))
        bars.append(DailyBar(day, open_, high, low, close, previous, quantity, round(quantity * close, 2), trades))
        close = previous
    bars.reverse()
    return bars


@functools.lru_cache(maxsize=256)
def _index_history(market: Market, index_id: int) -> list[IndexDay]:
    rng = random.Random(f"nepse-sim:{market.seed}:index-history:{index_id}")
    days = previous_trading_days(market.business_date, HISTORY_DAYS)
    out: list[IndexDay] = []
    close = round(market.index_levels[index_id], 2)
    for day in reversed(days):
        previous = round(close / (1 + rng.gauss(0, 0.009)), 2)
        open_ = round(previous * (1 + rng.gauss(0, 0.002)), 2)
        high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.004))), 2)
        low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.004))), 2)
        volume = float(rng.randrange(5_000_000, 40_000_000))
        out.append(
            IndexDay(
                day, open_, high, low, close, previous, round(volume * 450.0, 2), volume, rng.randint(40_000, 200_000)
            )
        )
        close = previous
    out.reverse()
    return out


@functools.lru_cache(maxsize=16)
def build_market(*, seed: int, trades: int, business_date: dt.date, market_open: bool, live: int = 0) -> Market:
    """The market for these parameters, built once per process.

    ``live`` trades are generated after the ``trades`` of the day; a live simulator reveals them as time passes.
    The day's aggregates (prices, top lists) cover the first ``trades`` only.
    """
    return Market(seed, trades, business_date, market_open, live)
