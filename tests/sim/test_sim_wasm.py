"""The simulator's css.wasm, run by wasmtime, agrees with tokens.junk_positions for every export."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
import requests
import wasmtime

from nepse_ray.nepse.tokens import JUNK_TABLE, MAX_SALT, junk_positions
from nepse_ray.sim import Simulator
from nepse_ray.sim.wasm import TABLE_ADDRESS, css_wasm

EXPORTS = ("cdx", "rdx", "bdx", "ndx", "mdx")
EXTRA_SALTS = (1_000, 1_009, 9_999, 10_000, 12_345, 27_431, 76_353, 99_999, 2**20, 2**30, MAX_SALT - 1, MAX_SALT)


@pytest.fixture(scope="module")
def instance() -> Iterator[tuple[wasmtime.Store, wasmtime.Instance]]:
    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, css_wasm())
    yield store, wasmtime.Instance(store, module, [])


def test_exports_have_the_sites_signature(instance: tuple[wasmtime.Store, wasmtime.Instance]) -> None:
    store, inst = instance
    exports = inst.exports(store)
    for name in EXPORTS:
        func = exports[name]
        assert isinstance(func, wasmtime.Func)
        func_type = func.type(store)
        assert [str(p) for p in func_type.params] == ["i32"] * 5
        assert [str(r) for r in func_type.results] == ["i32"]
    assert isinstance(exports["memory"], wasmtime.Memory)


def test_every_salt_below_1000_and_large_ones_match_junk_positions(
    instance: tuple[wasmtime.Store, wasmtime.Instance],
) -> None:
    store, inst = instance
    funcs = [inst.exports(store)[name] for name in EXPORTS]
    for salt in [*range(1000), *EXTRA_SALTS]:
        # Only the second argument matters; vary the others to prove it.
        got = tuple(f(store, salt ^ 0x55, salt, 7, -3, MAX_SALT) for f in funcs)  # type: ignore[operator]
        assert got == junk_positions(salt), salt


def test_known_vector(instance: tuple[wasmtime.Store, wasmtime.Instance]) -> None:
    store, inst = instance
    assert inst.exports(store)["cdx"](store, 1, 2, 3, 4, 5) == 26  # type: ignore[operator]


def test_lookup_table_sits_at_1024_little_endian(instance: tuple[wasmtime.Store, wasmtime.Instance]) -> None:
    store, inst = instance
    memory = inst.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    raw = memory.read(store, TABLE_ADDRESS, TABLE_ADDRESS + 4 * len(JUNK_TABLE))
    assert struct.unpack(f"<{len(JUNK_TABLE)}i", raw) == JUNK_TABLE


def test_served_at_the_sites_path() -> None:
    with Simulator(trades=10, rate_limit=None) as sim:
        response = requests.get(sim.base_url + "/assets/prod/css.wasm", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/wasm"
    assert response.content == css_wasm()
