"""Validators of the flow-control options: concurrency keys and limits, and queue limits.

``check_concurrency_key`` and ``check_concurrency_limit`` serve ``@job``, ``Task.using`` and
``enqueue``; ``check_queue_options`` and ``parse_rate_limit`` the ``DJANGO_JOBS["QUEUES"]``
dict (system checks django_jobs.E080-E084) and the claim that reads it. Raise
``InvalidJobOptionsError`` naming the value and what to do; no database, no settings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidJobOptionsError
from .options import MAX_POSITIVE_INT, _storable_text

CONCURRENCY_KEY_MAX_LENGTH = 255
#: A queue's rate limit counts at most this many starts per period (the window keeps each one).
MAX_RATE_COUNT = 10_000
PERIOD_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
QUEUE_OPTIONS = ("concurrency", "rate_limit")
_RATE = re.compile(r"\s*([0-9]+)\s*/\s*([smh])\s*")


@dataclasses.dataclass(frozen=True, slots=True)
class QueueLimits:
    """The limits of one queue: ``concurrency`` jobs running at once across all workers (None:
    no limit), and at most ``rate_count`` starts in any ``rate_period_seconds`` (None: none)."""

    concurrency: int | None = None
    rate_count: int | None = None
    rate_period_seconds: float | None = None


def check_concurrency_key(key: Any) -> str | None:
    """Return ``key`` or raise ``InvalidJobOptionsError`` unless it is a short non-empty str.

    >>> check_concurrency_key("tenant-42")
    'tenant-42'
    """
    if key is None:
        return None
    if (
        not isinstance(key, str)
        or not key
        or len(key) > CONCURRENCY_KEY_MAX_LENGTH
        or not _storable_text(key)
    ):
        raise InvalidJobOptionsError(
            f"concurrency_key must be a non-empty string of at most {CONCURRENCY_KEY_MAX_LENGTH} "
            f"characters, with no NUL or lone surrogate, got {key!r:.80}."
        )
    return key


def check_concurrency_limit(limit: Any) -> int | None:
    """Return ``limit`` or raise ``InvalidJobOptionsError`` unless it is an int in 1..2**31-1.

    >>> check_concurrency_limit(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: concurrency_limit must be an integer in 1...
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_POSITIVE_INT:
        raise InvalidJobOptionsError(
            f"concurrency_limit must be an integer in 1..{MAX_POSITIVE_INT} (jobs of one "
            f"concurrency key running at once), got {limit!r:.80}."
        )
    return limit


def resolve_concurrency(key: Any, limit: Any, task_path: str) -> tuple[str | None, int | None]:
    """Return the ``(concurrency_key, concurrency_limit)`` a job stores.

    A limit without a key limits the task as a whole: the key is then ``task_path``. A key
    without a limit is an error: there would be nothing to enforce.

    >>> resolve_concurrency(None, 2, "app.jobs.sync")
    ('app.jobs.sync', 2)
    >>> resolve_concurrency(None, None, "app.jobs.sync")
    (None, None)
    """
    key, limit = check_concurrency_key(key), check_concurrency_limit(limit)
    if limit is None:
        if key is not None:
            raise InvalidJobOptionsError(
                f"concurrency_key {key!r} needs a concurrency_limit: give "
                "@job(concurrency_limit=N) or using(concurrency_key=..., concurrency_limit=N)."
            )
        return None, None
    return (task_path if key is None else key), limit


def parse_rate_limit(rate: Any) -> tuple[int, float]:
    """Return ``(count, period_seconds)`` of a rate limit: ``"10/s"``, ``"600/m"``, ``"5/h"``.

    Raises ``InvalidJobOptionsError`` unless it is ``"<count>/<s|m|h>"`` with a count in
    1..``MAX_RATE_COUNT``.

    >>> parse_rate_limit("10/s")
    (10, 1.0)
    >>> parse_rate_limit("90/m")
    (90, 60.0)
    """
    match = _RATE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None or not 1 <= int(match[1]) <= MAX_RATE_COUNT:
        raise InvalidJobOptionsError(
            f"rate_limit must be a string '<count>/<s|m|h>' with a count in 1..{MAX_RATE_COUNT}, "
            f"e.g. '10/s' or '600/h', got {rate!r:.80}."
        )
    return int(match[1]), PERIOD_SECONDS[match[2]]


def check_queue_options(queue: str, options: Any) -> QueueLimits:
    """Return the ``QueueLimits`` of ``DJANGO_JOBS["QUEUES"][queue]``, or raise.

    ``options`` is None (no limits) or a dict with the keys ``"concurrency"`` (an int in
    1..2**31-1, or None) and ``"rate_limit"`` (see ``parse_rate_limit``, or None).

    >>> check_queue_options("mail", {"concurrency": 2, "rate_limit": "10/s"})
    QueueLimits(concurrency=2, rate_count=10, rate_period_seconds=1.0)
    """
    if options is None:
        return QueueLimits()
    if not isinstance(options, Mapping):
        raise InvalidJobOptionsError(
            f"the options of queue {queue!r} must be a dict such as {{'concurrency': 2, "
            f"'rate_limit': '10/s'}} or None, got {options!r:.80}."
        )
    unknown = sorted(set(options) - set(QUEUE_OPTIONS), key=str)
    if unknown:
        raise InvalidJobOptionsError(
            f"queue {queue!r} has unknown options {unknown}; known: {list(QUEUE_OPTIONS)}."
        )
    concurrency = options.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_POSITIVE_INT
    ):
        raise InvalidJobOptionsError(
            f"queue {queue!r}: concurrency must be an integer in 1..{MAX_POSITIVE_INT} (jobs "
            f"running at once across all workers) or None, got {concurrency!r:.80}."
        )
    rate = options.get("rate_limit")
    if rate is None:
        return QueueLimits(concurrency=concurrency)
    try:
        count, period = parse_rate_limit(rate)
    except InvalidJobOptionsError as exc:
        raise InvalidJobOptionsError(f"queue {queue!r}: {exc}") from None
    return QueueLimits(concurrency=concurrency, rate_count=count, rate_period_seconds=period)
