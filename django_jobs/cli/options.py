"""Validate the values the ``manage.py jobs`` subcommands take, before any SQL runs.

argparse only splits the command line into strings; each value is checked here, by one function
per kind of option, so the message for a bad ``--since`` is the same in every subcommand. Each
raises ``UsageError`` (a ``ValueError``) saying what was wrong and what to give instead; the
subcommand prints it through ``Output.error`` and exits ``EXIT_USAGE``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..exceptions import DjangoJobsError

#: ``--status`` values of ``jobs list``: the four job states and the dead letters (``failed`` is
#: the word ``get_status`` uses for a dead-lettered job, so it is taken as ``dead``).
STATUSES = ("queued", "running", "done", "cancelled", "dead", "failed")
QUEUE_MAX_LENGTH = 64  # Job.queue's max_length
MAX_LIMIT = 10_000


class UsageError(DjangoJobsError, ValueError):
    """A subcommand's option or argument has a value it cannot use."""


def add_queue(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--queue NAME`` (repeatable) to ``parser``; ``what`` ends its help sentence."""
    parser.add_argument(
        "--queue",
        action="append",
        metavar="NAME",
        help=f"Only {what} in this queue; repeat for several. Default: every queue.",
    )


def add_since(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--since WHEN`` to ``parser``; ``what`` says which time it is compared with."""
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help=f"Only those {what} at or after WHEN: a number of seconds ago (3600) or an ISO 8601 "
        "date and time (2026-12-01T09:00:00+00:00; without an offset, UTC).",
    )


def queues(values: Sequence[str] | None) -> list[str]:
    """Return the ``--queue`` names given (``[]`` for none); raise ``UsageError`` for a bad one.

    >>> queues(["mail", "mail", "default"])
    ['mail', 'default']
    """
    found: list[str] = []
    for value in values or ():
        if not value.strip() or len(value) > QUEUE_MAX_LENGTH:
            raise UsageError(
                f"--queue {value!r} is not a queue name: give 1 to {QUEUE_MAX_LENGTH} characters."
            )
        if value not in found:
            found.append(value)
    return found


def since(value: str | None, now: datetime) -> datetime | None:
    """Return ``--since`` as an aware UTC datetime (None when not given).

    ``value`` is a number of seconds before ``now`` or an ISO 8601 datetime (naive means UTC).
    Raises ``UsageError`` for anything else, a negative number included.

    >>> now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    >>> since("90", now).isoformat()
    '2026-12-01T11:58:30+00:00'
    >>> since("2026-12-01T09:00", now).isoformat()
    '2026-12-01T09:00:00+00:00'
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not 0 <= seconds < 10**10:
            raise UsageError(f"--since {value}: give a number of seconds ago, 0 or more.")
        return now - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--since {value!r} is neither a number of seconds nor an ISO 8601 date and time; "
            "give e.g. 3600 or 2026-12-01T09:00:00+00:00."
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def limit(value: int | str) -> int:
    """Return ``--limit`` as an int from 1 to ``MAX_LIMIT``; raise ``UsageError`` otherwise.

    >>> limit("20")
    20
    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise UsageError(f"--limit {value}: give a whole number from 1 to {MAX_LIMIT}.")
    return number


def status(value: str | None) -> str | None:
    """Return ``--status`` (``failed`` read as ``dead``); raise ``UsageError`` for another word.

    >>> status("failed")
    'dead'
    """
    if value is None:
        return None
    if value not in STATUSES:
        raise UsageError(f"--status {value!r} is not a status: give one of {', '.join(STATUSES)}.")
    return "dead" if value == "failed" else value


def job_ids(values: Sequence[str] | str | int | None, what: str = "job id") -> list[int]:
    """Return positive integer ids, in order and without repeats; raise ``UsageError`` otherwise.

    >>> job_ids(["3", "1", "3"])
    [3, 1]
    """
    if values is None:
        return []
    if isinstance(values, str | int):
        values = [str(values)]
    found: list[int] = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number < 2**63:
            raise UsageError(f"{value!r} is not a {what}: give a positive whole number.")
        if number not in found:
            found.append(number)
    return found


def seconds(value: float | str | None, option: str) -> float | None:
    """Return a number of seconds, 0 or more (None when not given); raise ``UsageError`` else.

    >>> seconds("300", "--max-ready-age")
    300.0
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number < 10**10:
        raise UsageError(f"{option} {value}: give a number of seconds, 0 or more.")
    return number


def count(value: int | str | None, option: str) -> int | None:
    """Return a whole number, 0 or more (None when not given); raise ``UsageError`` else.

    >>> count("0", "--max-dead-last-hour")
    0
    """
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number < 2**31:
        raise UsageError(f"{option} {value}: give a whole number, 0 or more.")
    return number
