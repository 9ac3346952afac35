"""What the data commands (``nepse-ray pull``, ``sync``, ``record``, ``watch``) share: reach the site or start the
simulator, check it answers before Ray starts, start a pool (or join the one running under the same name, which they
leave running), show progress, and turn every failure into one line.

>>> with Connection(simulate=True, quiet=True) as connection:       # doctest: +SKIP
...     pull_floorsheet(connection.api, on_progress=connection.progress("floorsheet"))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from .console import LogConsole
from .nepse.client import NepseClient
from .nepse.errors import NepseError
from .pool.api import NepseWorkerAPI
from .pulls.engine import Progress as PullProgress
from .sim import SimulatorError, SimulatorProcess
from .terminal import printable

#: The simulated market ``--simulate`` serves: the default day (50,000 trades) and a week of earlier days.
SIMULATED_PAST_DAYS = 5
#: New trades a second on the simulated market of the live commands (``record``, ``watch``): in session.
SIMULATED_TRADES_PER_S = 20.0
#: Seconds between two pool-stats reads of the progress display.
STATS_EVERY = 1.0


class Connection:
    """A pool on the site at ``base_url`` (or on a simulator started here, in session with ``live``), for one
    command."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        simulate: bool = False,
        address: str | None = None,
        min_workers: int = 1,
        max_workers: int = 5,
        quiet: bool = False,
        live: bool = False,
    ) -> None:
        self.console = LogConsole(stderr=True, quiet=quiet, log_path=False)
        session: dict[str, Any] = {"market_open": True, "live_trades_per_s": SIMULATED_TRADES_PER_S} if live else {}
        self._sim = SimulatorProcess(past_days=SIMULATED_PAST_DAYS, **session) if simulate else None
        self.base_url = self._sim.base_url if self._sim else (base_url or "https://www.nepalstock.com")
        try:
            _reachable(self.base_url)
            options: dict[str, Any] = {"base_url": self.base_url, "min_workers": min_workers}
            options["max_workers"] = max_workers
            self.api = NepseWorkerAPI(address=address, **options)
        except BaseException:
            self._close_sim()
            raise
        self._stats_read = -float("inf")
        self._workers = (0, 0)

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[PullProgress], None]]:
        """A progress display for one pull: pages, rows/s, workers busy/total, time left."""
        columns = (
            TextColumn(f"{label:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pages  {task.fields[rate]:>8} rows/s  workers {task.fields[workers]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as display:
            task = display.add_task(label, total=None, rate="-", workers="-")
            yield lambda state: self._show(display, task, state)

    def _show(self, display: Progress, task: TaskID, state: PullProgress) -> None:
        now = time.monotonic()
        if now - self._stats_read >= STATS_EVERY:
            self._stats_read = now
            stats = self.api.get_stats()
            self._workers = (stats.busy_workers, stats.total_workers)
        rate = f"{state.rows / state.elapsed:,.0f}" if state.elapsed > 0 else "-"
        busy, total = self._workers
        display.update(task, completed=state.pages_done, total=state.pages_total, rate=rate, workers=f"{busy}/{total}")

    def _close_sim(self) -> None:
        if self._sim is not None:
            self._sim.close()
            self._sim = None

    def close(self) -> None:
        """Stop the pool if this command started it; leave a pool it joined (a notebook's, a job's) running."""
        try:
            if hasattr(self, "api"):
                self.api.shutdown(drain=False)
        finally:
            self._close_sim()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _reachable(base_url: str) -> None:
    """One handshake and one status call from here, so a wrong URL or a TLS failure is named before Ray starts."""
    with NepseClient(base_url, connect_timeout=5.0, read_timeout=15.0) as client:
        client.market_open()


def one_line_errors(command: str, run: Callable[[], int]) -> int:
    """Run ``run``; a NEPSE error or Ctrl-C becomes one line on stderr and a non-zero exit, never a traceback."""
    try:
        return run()
    except (NepseError, OSError, SimulatorError) as error:  # OSError: a disk that filled up, a folder removed
        print(f"nepse-ray {command}: {type(error).__name__}: {printable(str(error), newlines=False)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nepse-ray {command}: interrupted; nothing was written under a final name", file=sys.stderr)
        return 130
