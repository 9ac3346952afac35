"""POST payload ids: the ``{"id": N}`` body that signs some NEPSE requests.

Every id starts from the base ``e = D[m] + m + 2·d`` (``D`` the site's 100-entry dummy table, ``m`` the market
id from ``market-open``, ``d`` a day of month); the variants then add one salt pair chosen by ``e mod 10``.
Which endpoint uses which variant lives in :data:`VARIANT_BY_ENDPOINT`, the only such table in the project.

>>> Salts = (27431, 76353, 65229, 91802, 38487)
>>> payload_id(PayloadVariant.GENERAL, market_id=80, day=12, salts=Salts)
1036656
>>> payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=12, salts=Salts)
889066
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from .errors import NepseInputError
from .tokens import validate_salt

NEPAL_TZ = ZoneInfo("Asia/Kathmandu")

#: ``getDummyData()`` of the site's main.js, indexed by market id.
DUMMY_DATA: tuple[int, ...] = (
    147, 117, 239, 143, 157, 312, 161, 612, 512, 804,
    411, 527, 170, 511, 421, 667, 764, 621, 301, 106,
    133, 793, 411, 511, 312, 423, 344, 346, 653, 758,
    342, 222, 236, 811, 711, 611, 122, 447, 128, 199,
    183, 135, 489, 703, 800, 745, 152, 863, 134, 211,
    142, 564, 375, 793, 212, 153, 138, 153, 648, 611,
    151, 649, 318, 143, 117, 756, 119, 141, 717, 113,
    112, 146, 162, 660, 693, 261, 362, 354, 251, 641,
    157, 178, 631, 192, 734, 445, 192, 883, 187, 122,
    591, 731, 852, 384, 565, 596, 451, 772, 624, 691,
)  # fmt: skip


class PayloadVariant(str, enum.Enum):
    """How an endpoint's body id is derived from the base id."""

    BASE = "base"  # e as-is (security detail, scrip graphs)
    GENERAL = "general"  # e%10 < 5 -> s4/s3, else s2/s1 (index graphs)
    FLOORSHEET = "floorsheet"  # e%10 < 4 -> s2/s1, else s4/s3
    B = "b"  # e%10 < 5 -> s2/s1, else s4/s3 (today-price, checked against live traffic by one client)


#: Signed endpoint name -> variant. Endpoint names are those of the catalogue in ``endpoints.py``.
VARIANT_BY_ENDPOINT: Mapping[str, PayloadVariant] = MappingProxyType(
    {
        "security_detail": PayloadVariant.BASE,
        "stock_intraday_graph": PayloadVariant.BASE,
        "daily_price_graph": PayloadVariant.BASE,
        "index_intraday_graph": PayloadVariant.GENERAL,
        "floorsheet": PayloadVariant.FLOORSHEET,
        "security_floorsheet": PayloadVariant.FLOORSHEET,
        "today_price": PayloadVariant.B,
    }
)

#: When a signed page comes back ``200 []``, the one other variant worth trying. Public clients disagree on
#: today-price: some sign it with variant B, others with the floorsheet variant (the two differ only when
#: ``e mod 10 == 4``), so B is the default and the floorsheet variant the fallback.
FALLBACK_VARIANT: Mapping[str, PayloadVariant] = MappingProxyType({"today_price": PayloadVariant.FLOORSHEET})


#: Where the day term ``d`` of a payload id comes from: today in Nepal (nepse-ray's default), the day of
#: market-open's ``asOf``, or the business date the request asks for (clients differ; see the protocol notes).
DayTerm = Literal["nepal-today", "as-of", "business-date"]
DAY_TERMS: tuple[DayTerm, ...] = get_args(DayTerm)


@dataclasses.dataclass(frozen=True, slots=True)
class PayloadRule:
    """How one signed endpoint's body id is derived: a variant and a day term. Holds no salt and no id."""

    variant: PayloadVariant
    day_term: DayTerm = "nepal-today"

    def describe(self) -> str:
        return f"variant {self.variant.value}, day of {self.day_term}"


def default_rules(endpoint: str) -> tuple[PayloadRule, ...]:
    """The rules nepse-ray knows for ``endpoint``: its variant, then its fallback variant if it has one."""
    rules = [PayloadRule(VARIANT_BY_ENDPOINT[endpoint])]
    if endpoint in FALLBACK_VARIANT:
        rules.append(PayloadRule(FALLBACK_VARIANT[endpoint]))
    return tuple(rules)


def heal_candidates(endpoint: str, tried: Iterable[PayloadRule]) -> list[PayloadRule]:
    """Every other rule for ``endpoint``, once each: its own variant with the other day terms first, then every
    other variant with each day term. At most ``len(PayloadVariant) x len(DAY_TERMS)`` of them."""
    own = VARIANT_BY_ENDPOINT[endpoint]
    variants = [own, *(v for v in PayloadVariant if v is not own)]
    done = set(tried)
    ordered = [PayloadRule(v, d) for v, d in itertools.product(variants, DAY_TERMS)]
    return [rule for rule in ordered if rule not in done]


def nepal_today() -> dt.date:
    """Today's date in Asia/Kathmandu (UTC+05:45), the default source of the day term."""
    return dt.datetime.now(NEPAL_TZ).date()


def validate_market_id(market_id: object) -> int:
    if isinstance(market_id, bool) or not isinstance(market_id, int) or not 0 <= market_id < len(DUMMY_DATA):
        raise NepseInputError(f"market id must be an int in 0..99 (the 'id' of market-open), got {market_id!r}")
    return market_id


def validate_day(day: object) -> int:
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise NepseInputError(f"day must be a day of month in 1..31, got {day!r}")
    return day


def base_payload_id(market_id: int, day: int) -> int:
    """``e = D[m] + m + 2·d``, sent as-is by the BASE variant."""
    validate_market_id(market_id)
    validate_day(day)
    return DUMMY_DATA[market_id] + market_id + 2 * day


def payload_id(variant: PayloadVariant, *, market_id: int, day: int, salts: Sequence[int]) -> int:
    """The body id for ``variant`` from the market id, day of month and the five salts of the token sent."""
    if len(salts) != 5:
        raise NepseInputError(f"expected five salts (salt1..salt5), got {len(salts)}")
    s1, s2, s3, s4, _ = (validate_salt(s) for s in salts)
    e = base_payload_id(market_id, day)
    digit = e % 10
    if variant is PayloadVariant.BASE:
        return e
    if variant is PayloadVariant.GENERAL:
        return e + s4 * day - s3 if digit < 5 else e + s2 * day - s1
    if variant is PayloadVariant.FLOORSHEET:
        return e + s2 * day - s1 if digit < 4 else e + s4 * day - s3
    if variant is PayloadVariant.B:
        return e + s2 * day - s1 if digit < 5 else e + s4 * day - s3
    raise NepseInputError(f"unknown payload variant {variant!r}")
