"""Pause queues: workers claim none of their jobs until `manage.py jobs resume`.

Jobs keep being enqueued into a paused queue and wait there, queued. Jobs already claimed
(running, or prefetched by a worker) run to completion. Pausing a queue that is paused already
keeps its first pause time. Exit status 0, or 2 for a bad queue name (nothing is paused then).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from .. import pause
from ..conf import jobs_settings
from ..exceptions import InvalidJobOptionsError
from ..validation.options import check_queue, check_queue_name
from .output import EXIT_OK, EXIT_USAGE, Output

NAME = "pause"
HELP = "Stop workers claiming from queues; enqueueing goes on."

COLUMNS = ("queue", "state", "paused_at", "paused_by")


def add_arguments(parser: CommandParser) -> None:
    add_queue_arguments(parser)
    parser.add_argument(
        "--by",
        default=None,
        help="Who pauses, recorded with the pause (default: your login name).",
    )


def run(options: dict[str, Any], out: Output) -> int:
    by = options["by"] if options["by"] is not None else _login_name()
    return change_each(
        options["queues"],
        out,
        lambda queue: "paused" if pause.pause_queue(queue, by=by) else "already paused",
        check=lambda queue: check_queue(queue, jobs_settings.QUEUES),
        check_by=by,
    )


def add_queue_arguments(parser: CommandParser) -> None:
    """Add the QUEUE... positional argument ``pause`` and ``resume`` share."""
    parser.add_argument("queues", nargs="+", metavar="QUEUE", help="A queue name; several allowed.")


def change_each(
    queues: list[str],
    out: Output,
    change: Callable[[str], str],
    *,
    check: Callable[[str], object] = check_queue_name,
    check_by: str | None = None,
) -> int:
    """Check every name, then ``change`` each queue; print one row per queue and its new state.

    ``check(queue)`` raises ``InvalidJobOptionsError`` for a bad name; ``change(queue)`` returns
    the state word to show. Returns ``EXIT_USAGE``, changing nothing,
    if any name is bad; else ``EXIT_OK``. The rows show each queue's pause as it is afterwards.
    """
    try:
        for queue in queues:
            check(queue)
        if check_by is not None and len(check_by) > pause.BY_MAX_LENGTH:
            raise InvalidJobOptionsError(
                f"--by must be at most {pause.BY_MAX_LENGTH} characters, got {check_by!r:.80}."
            )
    except InvalidJobOptionsError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    states = {queue: change(queue) for queue in dict.fromkeys(queues)}
    paused = {row.queue: row for row in pause.paused_queues()}
    rows = [
        {
            "queue": queue,
            "state": state,
            "paused_at": paused[queue].paused_at if queue in paused else None,
            "paused_by": paused[queue].paused_by if queue in paused else None,
        }
        for queue, state in states.items()
    ]
    out.table(rows, COLUMNS)
    return EXIT_OK


def _login_name() -> str:
    try:
        return getpass.getuser()[: pause.BY_MAX_LENGTH]
    except (KeyError, OSError):  # no login name in this environment (a bare container)
        return ""
