"""``Output``: how ``manage.py jobs`` subcommands print, as tables for people or JSON for scripts.

Tables and colour come from ``rich``; with ``--json`` every subcommand prints one JSON document
(an object or a list) on stdout and nothing else there, so ``jq`` and scripts can read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

#: A text stream: a file, or the OutputWrapper a management command writes to.
Stream = IO[str] | Any

PIPED_WIDTH = 160  # characters a table may take when stdout is not a terminal
EXIT_OK = 0
EXIT_PROBLEM = 1  # the command ran and found something wrong (unhealthy, a doctor finding)
EXIT_USAGE = 2  # bad input: what was wrong was printed to stderr


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


class Output:
    """Print to ``stdout``/``stderr`` (text streams); ``as_json`` switches tables to JSON.

    ``color`` None lets rich decide (colour on a terminal only, and never under ``NO_COLOR``).
    """

    def __init__(
        self, stdout: Stream, stderr: Stream, *, as_json: bool, color: bool | None = None
    ) -> None:
        self.as_json = as_json
        no_color = None if color is None else not color
        self._out = Console(file=stdout, no_color=no_color, soft_wrap=True, highlight=False)
        self._err = Console(file=stderr, no_color=no_color, soft_wrap=True, highlight=False)
        for console in (self._out, self._err):
            # Piped or captured (a log, less): rich would wrap tables at 80 columns; COLUMNS wins.
            if not console.is_terminal and "COLUMNS" not in os.environ:
                console.width = PIPED_WIDTH

    def table(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: Sequence[str],
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Print ``rows`` (dicts keyed by ``columns``) as a table, or as a JSON list of objects."""
        rows = list(rows)
        if self.as_json:
            self.json([{c: _plain(row.get(c)) for c in columns} for row in rows])
            return
        table = Table(title=title, header_style="bold")
        for column in columns:
            table.add_column((headers or {}).get(column, column.replace("_", " ")), overflow="fold")
        for row in rows:
            # Text, not markup: a task path or an error message with "[...]" in it prints as is.
            table.add_row(
                *(Text("" if row.get(c) is None else str(_plain(row.get(c)))) for c in columns)
            )
        self._out.print(table)

    def json(self, document: Any) -> None:
        """Print ``document`` as JSON (datetimes as ISO 8601, durations in seconds)."""
        self._out.file.write(json.dumps(document, default=_plain, indent=2, sort_keys=True) + "\n")

    def line(self, text: str, *, style: str | None = None) -> None:
        """Print a line for people; nothing in JSON mode (where only the document is printed)."""
        if not self.as_json:
            self._out.print(text, style=style)

    def error(self, text: str) -> None:
        """Print an error (to stderr, in JSON mode too)."""
        self._err.print(f"error: {text}", style="bold red")
