"""The token decoder: classifying a served css.wasm, refusing hostile ones, and healing through the shared memory."""

from __future__ import annotations

import pytest
import wasmtime

from nepse_ray.nepse.cssmodule import ModuleFormatError, read_module, table_at
from nepse_ray.nepse.decoder import (
    BUILTIN,
    KNOWN_MODULES,
    MAX_MODULE_BYTES,
    DecoderSpec,
    classify_module,
    decoder_for,
    module_sha256,
    strip,
)
from nepse_ray.nepse.errors import NepseDecoderError
from nepse_ray.nepse.site import SiteMemory
from nepse_ray.nepse.tokens import BUILTIN_SCHEME, insert_junk, junk_positions
from nepse_ray.sim.changes import NEW_TABLE, TWO_DELETION_SCHEME, site_changes
from nepse_ray.sim.wasm import HostileKind, css_wasm, hostile_module

TOKEN = "header." + "p" * 120 + ".signature"


def test_the_simulators_module_is_known_and_decoded_by_the_builtin_decoder() -> None:
    module = css_wasm()
    assert module_sha256(module) in KNOWN_MODULES
    assert classify_module(module) == DecoderSpec("builtin", module_sha256(module))


def test_a_new_table_is_read_from_the_data_segment() -> None:
    module = css_wasm(site_changes(["wasm-table"]).scheme)
    spec = classify_module(module)
    assert (spec.name, spec.table, spec.module) == ("site-table", NEW_TABLE, None)
    assert table_at(read_module(module)) == NEW_TABLE
    decoder = decoder_for(spec)
    for salt in (0, 34, 999, 27431):
        obfuscated = insert_junk(TOKEN, salt, "#####", site_changes(["wasm-table"]).scheme)
        assert strip(decoder, obfuscated, salt) == TOKEN
        assert decoder.positions(salt) != junk_positions(salt)


def test_new_code_is_run_and_its_positions_cached() -> None:
    module = css_wasm(TWO_DELETION_SCHEME)
    spec = classify_module(module)
    assert (spec.name, spec.exports) == ("site-module", ("cdx", "rdx"))
    decoder = decoder_for(spec)
    for salt in range(0, 1000, 37):
        assert decoder.positions(salt) == TWO_DELETION_SCHEME.positions(salt)
        obfuscated = insert_junk(TOKEN, salt, "##", TWO_DELETION_SCHEME)
        assert strip(decoder, obfuscated, salt) == TOKEN


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("too-big", "more than 64 KiB"),
        ("imports", "imports 1 thing"),
        ("endless-loop", "step budget"),
        ("descending", "not distinct, non-negative and ascending"),
        ("no-exports", "does not export the position functions"),
    ],
)
def test_a_hostile_module_is_refused_with_a_named_error(kind: HostileKind, why: str) -> None:
    module = hostile_module(kind)
    with pytest.raises(NepseDecoderError, match=why) as refused:
        classify_module(module)
    assert not refused.value.retryable and refused.value.endpoint == "css_wasm"


def test_the_hostile_modules_are_what_they_say() -> None:
    assert len(hostile_module("too-big")) > MAX_MODULE_BYTES
    assert read_module(hostile_module("imports")).imports == 1
    engine = wasmtime.Engine(wasmtime.Config())
    wasmtime.Module(engine, hostile_module("endless-loop"))  # valid WebAssembly: refused for what it does
    with pytest.raises(ModuleFormatError):
        read_module(b"\x00asm\x01\x00\x00\x00\x07\x05")


class Fetches:
    def __init__(self, *modules: bytes) -> None:
        self.modules, self.count = list(modules), 0

    def __call__(self) -> bytes:
        self.count += 1
        return self.modules[min(self.count, len(self.modules)) - 1]


def test_the_memory_heals_once_and_answers_later_askers_from_what_it_learned() -> None:
    now = [0.0]
    fetches = Fetches(css_wasm(TWO_DELETION_SCHEME))
    memory = SiteMemory(fetches, clock=lambda: now[0], refetch_after=300.0)
    healed = memory.heal_decoder(BUILTIN)
    assert healed.name == "site-module" and memory.decoder() == healed
    assert memory.heal_decoder(BUILTIN) == healed  # a worker that failed with the old decoder: no second fetch
    assert memory.heal_decoder(healed) == healed  # refused with the new one too: too soon to fetch again
    assert fetches.count == 1 and memory.status().module_fetches == 1
    now[0] = 301.0
    assert memory.heal_decoder(healed) == healed and fetches.count == 2


def test_an_unchanged_module_keeps_the_decoder_and_a_refusal_is_remembered() -> None:
    now = [0.0]
    memory = SiteMemory(Fetches(css_wasm()), clock=lambda: now[0])
    assert memory.heal_decoder(BUILTIN) == DecoderSpec("builtin", module_sha256(css_wasm()))
    refused = SiteMemory(Fetches(hostile_module("imports")), clock=lambda: now[0])
    for _ in range(2):  # the second asker gets the same refusal without a fetch
        with pytest.raises(NepseDecoderError):
            refused.heal_decoder(BUILTIN)
    assert refused.status().module_fetches == 1


def test_the_builtin_scheme_is_the_sites_arithmetic() -> None:
    assert BUILTIN_SCHEME.positions(12345) == (25, 42, 70, 95, 116)
    assert decoder_for(BUILTIN).name == "builtin"
