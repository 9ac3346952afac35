"""The console the data commands log to: rich's, except that where its output is not a terminal (a batch job's log
file, a pipe) each line is written whole.

rich sizes output that is not a terminal to 80 columns (or ``COLUMNS``): a longer log line or report came out
broken over several lines, its pieces padded with spaces to the width, which ``grep`` and log collectors then see
as separate lines. Here such output keeps every line on one line: ``log`` writes ``[HH:MM:SS] message`` and
``print`` does not wrap. On a terminal nothing changes.

>>> import io
>>> out = io.StringIO()
>>> LogConsole(file=out, log_time_format="[T]").log("x" * 100)
>>> out.getvalue() == "[T] " + "x" * 100 + "\\n"
True
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console, JustifyMethod
from rich.style import Style
from rich.text import Text


class LogConsole(Console):
    """A rich ``Console`` that writes each line whole where its output is not a terminal."""

    def __init__(self, *args: Any, log_time_format: str = "[%H:%M:%S]", **kwargs: Any) -> None:
        super().__init__(*args, log_time_format=log_time_format, **kwargs)
        self._stamp = log_time_format
        if not self.is_terminal:
            self.soft_wrap = True  # print: one line per line of text, whatever its length

    def log(
        self,
        *objects: Any,
        sep: str = " ",
        end: str = "\n",
        style: str | Style | None = None,
        justify: JustifyMethod | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        log_locals: bool = False,
        _stack_offset: int = 1,
    ) -> None:
        if self.is_terminal:
            super().log(
                *objects,
                sep=sep,
                end=end,
                style=style,
                justify=justify,
                emoji=emoji,
                markup=markup,
                highlight=highlight,
                log_locals=log_locals,
                _stack_offset=_stack_offset + 1,
            )
            return
        stamp = Text(dt.datetime.now().strftime(self._stamp))  # never read as markup
        self.print(stamp, *objects, sep=sep, end=end, style=style, emoji=emoji, markup=markup, highlight=highlight)
