"""A client's walk through its calls against the simulator, and the truth each call must return (tests/compat).

A :class:`Call` pairs what a client does (``run(client, ctx)``) with how the simulator's answer is read directly
(``truth(session, ctx)``) and what of both is compared (``view``: the whole JSON by default, a length, ids).
:func:`walk` runs a client's calls one after another, as a user would, keeping each answer or the exception it
raised; the tests then compare call by call, so a report names every call that does not return the truth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sim_session import TruthSession

from nepse_ray.nepse.payload import nepal_today


@dataclasses.dataclass(frozen=True)
class Context:
    """What the calls need to know of the served market: a security that traded on the business day (its newest
    trade is on the floorsheet's first page), one with dividends, and the days."""

    security_id: int
    symbol: str
    dividend_id: int
    dividend_symbol: str
    business_date: dt.date
    today: dt.date

    @property
    def day(self) -> int:
        """The day term of payload ids on the simulator's default (today in Nepal)."""
        return self.today.day


def context(truth: TruthSession) -> Context:
    newest = truth.call("floorsheet", size=1, day=nepal_today().day).json()["floorsheets"]["content"][0]
    as_of = truth.call("market_open").json()["asOf"]
    listed = {s["id"]: s["symbol"] for s in truth.call("security_list").json()}
    dividend_id = next(sid for sid in sorted(listed) if truth.get(f"/api/nots/application/dividend/{sid}").json())
    return Context(
        security_id=newest["stockId"],
        symbol=newest["stockSymbol"],
        dividend_id=dividend_id,
        dividend_symbol=listed[dividend_id],
        business_date=dt.date.fromisoformat(as_of[:10]),
        today=nepal_today(),
    )


def same(value: Any) -> Any:
    return value


@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a client: ``run`` on the client, ``truth`` from the simulator, ``view`` of both to compare."""

    run: Callable[[Any, Context], Any]
    truth: Callable[[TruthSession, Context], Any]
    view: Callable[[Any], Any] = same
    truth_view: Callable[[Any], Any] | None = None

    def expected(self, session: TruthSession, ctx: Context) -> Any:
        return (self.truth_view or self.view)(self.truth(session, ctx))


def walk(calls: Mapping[str, Call], client: Any, ctx: Context) -> dict[str, Any]:
    """Each call's answer (or the exception it raised), in order."""
    answers: dict[str, Any] = {}
    for name, call in calls.items():
        try:
            answers[name] = call.run(client, ctx)
        except Exception as error:  # the comparison reports it
            answers[name] = error
    return answers


def check(
    name: str, calls: Mapping[str, Call], answers: Mapping[str, Any], session: TruthSession, ctx: Context
) -> None:
    """Assert that the client's answer to ``name`` is the simulator's truth."""
    answer = answers[name]
    if isinstance(answer, BaseException):
        raise AssertionError(f"{name} raised {type(answer).__name__}: {answer}") from answer
    call = calls[name]
    expected = call.expected(session, ctx)
    assert expected not in (None, [], {}), f"{name}: the simulator's truth is empty; pick other parameters"
    assert call.view(answer) == expected, name


def get(path: str, **params: Any) -> Callable[[TruthSession, Context], Any]:
    """The truth of a GET endpoint; ``{...}`` in ``path`` and string ``params`` are formatted with the context."""

    def read(session: TruthSession, ctx: Context) -> Any:
        values = {k: v.format(**vars(ctx)) if isinstance(v, str) else v for k, v in params.items()}
        return session.get(path.format(**vars(ctx)), **values).json()

    return read


def catalogue(name: str, **params: Any) -> Callable[[TruthSession, Context], Any]:
    """The truth of a catalogue endpoint (signed ones with today's payload id); ``"{field}"`` values are formatted
    with the context."""

    def read(session: TruthSession, ctx: Context) -> Any:
        values = {k: v.format(**vars(ctx)) if isinstance(v, str) else v for k, v in params.items()}
        values = {k: int(v) if k in ("security_id", "index_id") else v for k, v in values.items()}
        return session.call(name, day=ctx.day, **values).json()

    return read


def content(page: Any) -> Any:
    return page["content"]


def rows(body: Any) -> Any:
    return body["floorsheets"]["content"]


def ids(items: Any, key: str = "id") -> list[Any]:
    return [item[key] for item in items]
