"""What one page of a paged endpoint may claim: numbers a pull can compute with, and no more rows than asked for.

Every reader of a page (the Arrow readers of :mod:`~nepse_ray.nepse.tables`, the model reader of
:mod:`~nepse_ray.nepse.client`) passes what the page says through :func:`check_page`, so a hostile or broken site
cannot make a pull keep rows nobody asked for, nor end it with an ``OverflowError``: ``totalElements`` of
``10**400`` or ``Infinity`` is a :class:`PagingError` like any other paging that does not add up.

>>> check_page("floorsheet", rows=500, total_elements=53_112, total_pages=107, number=3, size=500)
(53112, 107, 3)
>>> check_page("floorsheet", rows=20_000, total_elements=1_000, total_pages=2, number=0, size=500)
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nepse_ray.nepse.errors.PagingError: floorsheet: page 0 holds 20000 rows, more than the size=500 asked for; ...
"""

from __future__ import annotations

from .errors import PagingError

#: Largest ``totalElements``, ``totalPages`` or page ``number`` believed: far above any NEPSE listing (a heavy
#: floorsheet day is a few hundred thousand rows), far below where counting rows in floats loses precision.
MAX_PAGING_NUMBER = 2**31 - 1


def check_page(
    endpoint: str, *, rows: int, total_elements: object, total_pages: object, number: object, size: int | None
) -> tuple[int, int, int]:
    """``(total_elements, total_pages, number)`` once checked: raise :class:`PagingError` unless they are integers
    in ``0 .. MAX_PAGING_NUMBER`` and the page holds at most ``size`` rows (``None``: the size asked for is not
    known here)."""
    checked: list[int] = []
    for name, value in (("totalElements", total_elements), ("totalPages", total_pages), ("number", number)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAGING_NUMBER:
            raise PagingError(
                f"{endpoint}: the page's {name} is {_shown(value)}, not a count between 0 and "
                f"{MAX_PAGING_NUMBER:,}; the site's paging cannot be trusted",
                endpoint=endpoint,
            )
        checked.append(value)
    if size is not None and rows > size:
        raise PagingError(
            f"{endpoint}: page {number} holds {rows} rows, more than the size={size} asked for; the site's paging "
            "cannot be trusted",
            endpoint=endpoint,
        )
    return checked[0], checked[1], checked[2]


def _shown(value: object) -> str:
    """``value`` for a message: a number as it is unless it is too long to print (10**400 has 401 digits)."""
    if isinstance(value, float) or (isinstance(value, int) and value.bit_length() < 64):
        return repr(value)
    return "a number too large to use" if isinstance(value, int) else f"a {type(value).__name__}"
