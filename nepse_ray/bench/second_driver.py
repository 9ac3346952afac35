"""A second driver process on the harness's cluster, for the figures one driver cannot give about another: both
ends of it.

:class:`SecondDriver` starts ``python -m nepse_ray.bench.second_driver ADDRESS BASE_URL POOL NAMESPACE CALLS``,
which joins the running pool (a ``NepseWorkerAPI`` with the pool's name, as a second notebook would), says
``READY``, and at each line on its stdin times ``CALLS`` calls of ``get_stats()`` and prints their seconds::

    with SecondDriver(context.address, api, calls=20) as other:
        ...                                   # load the pool from this driver
        seconds = other.time_stats()          # measured in the other process, now
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pool.api import NepseWorkerAPI

READY = "READY"
TIMES = "TIMES "
#: Seconds to wait for the second driver to join the pool, or to answer once asked.
TIMEOUT = 300.0


class SecondDriverError(RuntimeError):
    """The second driver did not join the pool or did not answer in time."""


class SecondDriver:
    """The other end of this module's ``main``, joined to ``api``'s pool; a context manager that ends it."""

    def __init__(self, address: str, api: NepseWorkerAPI, calls: int) -> None:
        options = api.options
        command = [sys.executable, "-m", __name__, address, options.base_url, options.pool_name, options.namespace,
                   str(calls)]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self._read(READY)

    def time_stats(self) -> list[float]:
        """Seconds each of the second driver's ``get_stats()`` calls took, made now."""
        assert self._process.stdin is not None
        self._process.stdin.write("go\n")
        self._process.stdin.flush()
        seconds: list[float] = json.loads(self._read(TIMES))
        return seconds

    def _read(self, marker: str) -> str:
        """What follows ``marker`` on the next line that starts with it (other lines are Ray's)."""
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while selector.select(max(0.0, deadline - time.monotonic())):
                line = stdout.readline()
                if not line:
                    break
                if line.startswith(marker):
                    return line.removeprefix(marker).strip()
        raise SecondDriverError(f"the second driver sent no {marker.strip()} line (exit code {self._process.poll()})")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=30)

    def __enter__(self) -> SecondDriver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def main(argv: list[str]) -> None:
    from ..pool.api import NepseWorkerAPI
    from .context import timed

    address, base_url, pool, namespace, calls = argv
    api = NepseWorkerAPI(address=address, base_url=base_url, pool_name=pool, namespace=namespace)
    print(READY, flush=True)
    for _ in sys.stdin:
        print(TIMES + json.dumps([timed(api.get_stats) for _ in range(int(calls))]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
