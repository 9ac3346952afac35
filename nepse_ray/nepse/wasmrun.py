"""Running an untrusted WebAssembly module's exports in pure Python (``pywasm``), each call bounded.

The token decoder runs the site's ``css.wasm`` when its code changed (:mod:`~nepse_ray.nepse.decoder`). ``pywasm``
interprets a module in pure Python, but it has no instruction budget of its own, so :class:`ModuleRunner` adds one:
every instruction the interpreter fetches is counted (the bodies of the module's functions and blocks become
:class:`_MeteredBody` lists, whose item access spends one step), and a call that spends its ``max_steps``, or runs
past its ``time_box`` seconds of the clock, stops with :class:`ModuleRefused`. Before anything runs, a module is
refused when it imports anything, grows its memory, declares more memory, table entries or locals than a token
module could need, or lacks the position exports with their ``(i32 x5) -> i32`` signature.

Refusals are exceptions, never hangs: the site's own module needs 27 steps per call; an endless loop spends the
budget in a fraction of a second (``nepse-ray bench --only site-change`` measures it).

>>> from nepse_ray.sim.wasm import css_wasm
>>> ModuleRunner(css_wasm()).call("cdx", 2)
26
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pywasm

#: Steps (instructions fetched) one call may take; the site's module takes 27.
MAX_STEPS = 20_000
#: Seconds one call may take on the clock, however few its steps (a second guard, checked every 256 steps).
TIME_BOX = 1.0
#: Largest memory, table and locals a token module may declare.
MAX_MEMORY_PAGES = 256
MAX_TABLE_ENTRIES = 4096
MAX_LOCALS = 4096
#: The signature every position export must have: five i32 in (only the second is read), one i32 out.
_I32 = pywasm.ValType.i32()
_STRUCTURED = frozenset({pywasm.opcode.block, pywasm.opcode.loop, pywasm.opcode.if_then})


class ModuleRefused(Exception):
    """The module may not run, or a call of it was stopped; the message says why (no token or salt in it)."""


class _Fuel:
    __slots__ = ("clock", "deadline", "left")

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock, self.left, self.deadline = clock, 0, 0.0

    def fill(self, steps: int, seconds: float) -> None:
        self.left, self.deadline = steps, self.clock() + seconds


class _MeteredBody(list[Any]):
    """A function or block body whose every instruction fetch spends one step of the shared fuel."""

    __slots__ = ("_fuel",)

    def __init__(self, items: list[Any], fuel: _Fuel) -> None:
        super().__init__(items)
        self._fuel = fuel

    def __getitem__(self, index: Any) -> Any:
        fuel = self._fuel
        fuel.left -= 1
        if fuel.left < 0:
            raise ModuleRefused("a call ran past its step budget (an endless loop?)")
        if not fuel.left & 0xFF and fuel.clock() > fuel.deadline:
            raise ModuleRefused("a call ran past its time box")
        return list.__getitem__(self, index)


class ModuleRunner:
    """One instance of an untrusted module; :meth:`call` runs one export with one salt, bounded. Thread-safe."""

    def __init__(
        self,
        data: bytes,
        *,
        exports: tuple[str, ...] = ("cdx",),
        max_steps: int = MAX_STEPS,
        time_box: float = TIME_BOX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_steps, self._time_box = max_steps, time_box
        self._fuel = _Fuel(clock)
        self._lock = threading.Lock()
        self._stopped: ModuleRefused | None = None
        try:
            module = pywasm.core.ModuleDesc.from_reader(_BytesReader(data))
        except (Exception, RecursionError) as error:  # any parse failure of hostile bytes
            raise ModuleRefused(f"pywasm cannot read the module ({type(error).__name__})") from None
        _check_limits(module, exports)
        for function in module.func:
            function.expr.data = self._metered(function.expr.data)
        self._runtime = pywasm.core.Runtime()
        with self._lock:
            self._instance = self._run(lambda: self._runtime.instance(module))

    def call(self, export: str, salt: int) -> int:
        """``export(0, salt, 0, 0, 0)``: the module's answer for ``salt`` as a signed i32."""
        with self._lock:
            answer = self._run(lambda: self._runtime.invocate(self._instance, export, [0, salt, 0, 0, 0]))
        if not (isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], int)):
            raise ModuleRefused(f"{export} did not return one i32")
        return int(answer[0])

    def _run(self, work: Callable[[], Any]) -> Any:
        if self._stopped is not None:  # the interpreter's stacks were left mid-call: never run it again
            raise self._stopped
        self._fuel.fill(self._max_steps, self._time_box)
        try:
            return work()
        except ModuleRefused as refused:
            self._stopped = refused
        except (Exception, RecursionError) as error:  # a trap, or pywasm's own checks of hostile code
            self._stopped = ModuleRefused(f"the module trapped ({type(error).__name__})")
        raise self._stopped

    def _metered(self, body: list[Any]) -> _MeteredBody:
        for instruction in body:
            if instruction.opcode == pywasm.opcode.memory_grow:
                raise ModuleRefused("the module grows its memory; a token module has no need to")
            if instruction.opcode in _STRUCTURED:
                for arm in range(1, len(instruction.args)):
                    instruction.args[arm] = self._metered(instruction.args[arm])
        return _MeteredBody(body, self._fuel)


class _BytesReader:
    """The ``read(n)`` pywasm's parser calls, over bytes in memory."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data, self._offset = data, 0

    def read(self, count: int = -1) -> bytes:
        start = self._offset
        end = len(self._data) if count < 0 else min(len(self._data), start + count)
        self._offset = end
        return self._data[start:end]


def _check_limits(module: Any, exports: tuple[str, ...]) -> None:
    if module.imps:
        raise ModuleRefused(f"the module imports {len(module.imps)} thing(s); the site's module imports nothing")
    if any(memory.limits.n > MAX_MEMORY_PAGES for memory in module.mems):
        raise ModuleRefused(f"the module asks for more than {MAX_MEMORY_PAGES} pages of memory")
    if any(table.limits.n > MAX_TABLE_ENTRIES for table in module.tabl):
        raise ModuleRefused(f"the module asks for a table of more than {MAX_TABLE_ENTRIES} entries")
    if any(sum(local.n for local in function.locals) > MAX_LOCALS for function in module.func):
        raise ModuleRefused(f"a function of the module declares more than {MAX_LOCALS} locals")
    functions = {export.name: export.desc for export in module.exps if export.kind == 0x00}
    for name in exports:
        index = functions.get(name)
        if index is None or not 0 <= index < len(module.func):
            raise ModuleRefused(f"the module has no function export {name!r}")
        signature = module.type[module.func[index].type]
        if list(signature.args) != [_I32] * 5 or list(signature.rets) != [_I32]:
            raise ModuleRefused(f"{name} is not (i32 x5) -> i32 as a position export must be")
