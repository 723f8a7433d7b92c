"""Resume paused queues: workers claim their jobs again, woken at once on PostgreSQL.

Resuming a queue that is not paused changes nothing (its row says "not paused"). A queue paused
before it left DJANGO_JOBS["QUEUES"] can still be resumed. Exit status 0, or 2 for a bad
queue name (nothing is resumed then).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from .. import pause
from .output import Output
from .pause import add_queue_arguments, change_each

NAME = "resume"
HELP = "Let workers claim from paused queues again."


def add_arguments(parser: CommandParser) -> None:
    add_queue_arguments(parser)


def run(options: dict[str, Any], out: Output) -> int:
    return change_each(
        options["queues"],
        out,
        lambda queue: "resumed" if pause.resume_queue(queue) else "not paused",
    )
