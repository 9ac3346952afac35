"""Run nepse-sdk 0.1.0's calls against a base URL and print each answer as JSON (run by test_nepse_sdk.py).

nepse-sdk needs Python 3.13, so it runs in an environment of its own; this script imports nothing of nepse-ray.
Usage: ``python nepse_sdk_driver.py BASE_URL SYMBOL DIVIDEND_SYMBOL`` with a scratch ``HOME`` (the client caches its
token and module under ``~/.lagani``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any


def _module(name: str) -> Any:
    """nepse-sdk's import name, ``nepse``, is also the name of nepse-ray's tests/nepse folder for the type checker."""
    return importlib.import_module(name)


def main(base_url: str, symbol: str, dividend_symbol: str) -> None:
    _module("nepse.core.client").BASE_URL = base_url
    _module("nepse.core.wasm").WASM_URL = base_url + "/assets/prod/css.wasm"
    client = _module("nepse").NepseClient()
    calls: dict[str, Callable[[], Any]] = {
        "market_summary": client.market_summary,
        "top_gainers": client.top_gainers,
        "top_losers": client.top_losers,
        "securities": client.securities,
        "security_detail": lambda: client.security_detail(symbol),
        "dividends": lambda: client.dividends(dividend_symbol),
    }
    answers: dict[str, Any] = {}
    for name, call in calls.items():
        try:
            answers[name] = {"ok": _plain(call())}
        except Exception as error:
            answers[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answers))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


if __name__ == "__main__":
    main(*sys.argv[1:4])
