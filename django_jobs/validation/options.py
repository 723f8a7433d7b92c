"""Validators of job options and settings: one per option, each returning the stored form.

Raise ``InvalidJobOptionsError`` naming the value and what to do. Nothing here touches the
database or reads settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..exceptions import InvalidJobOptionsError

PRIORITY_MIN, PRIORITY_MAX = -100, 100
#: The largest value of a ``PositiveIntegerField`` (``max_attempts``, ``timeout_seconds``).
MAX_POSITIVE_INT = 2_147_483_647
QUEUE_MAX_LENGTH = 64
TASK_PATH_MAX_LENGTH = 255
IDEMPOTENCY_KEY_MAX_LENGTH = 255
WORKER_ID_MAX_LENGTH = 128
DAY_SECONDS = 86_400
#: A job may run for at most a week before its timeout fires.
MAX_TIMEOUT_SECONDS = 7 * DAY_SECONDS
#: Retry delays (per job or in settings) are at most 30 days.
MAX_BACKOFF_SECONDS = 30 * DAY_SECONDS
#: A snooze is at most 30 days: a task that waits longer should be scheduled, not snoozed.
MAX_SNOOZE_SECONDS = 30 * DAY_SECONDS
#: A uniqueness window or a debounce is at most a year.
MAX_UNIQUE_SECONDS = 366 * DAY_SECONDS
#: ``delay`` is at most 100 years, so ``now + delay`` is a datetime every database stores.
MAX_DELAY_SECONDS = 36_500 * DAY_SECONDS
#: PostgreSQL's ``jsonb`` holds at most 255 MiB; no size limit may be set above it.
MAX_JSON_BYTES = 255 * 1024 * 1024
ARGUMENTS_LIMIT_NAME = "DJANGO_JOBS['MAX_ARGUMENTS_BYTES']"
RESULT_LIMIT_NAME = "DJANGO_JOBS['MAX_RESULT_BYTES']"
_MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def check_seconds(
    value: Any,
    name: str,
    *,
    maximum: float,
    positive: bool = False,
) -> float:
    """Return ``value`` as a float of seconds, or raise ``InvalidJobOptionsError``.

    ``value`` must be a finite number ``>= 0`` (``> 0`` when ``positive``) and ``<= maximum``.
    ``name`` is how the message names the value.

    >>> check_seconds(2, "LEASE_SECONDS", maximum=60, positive=True)
    2.0
    >>> check_seconds(float("inf"), "delay", maximum=60)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: delay must be a finite number ... got inf.
    """
    if (
        not _is_number(value)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
        or value > maximum
    ):
        top = int(maximum) if float(maximum).is_integer() else maximum
        span = f"> 0 and <= {top}" if positive else f"in 0..{top}"
        raise InvalidJobOptionsError(
            f"{name} must be a finite number of seconds {span}, got {value!r:.80}."
        )
    return float(value)


def check_queue_name(queue: Any) -> str:
    """Return ``queue`` or raise ``InvalidJobOptionsError`` unless it is a short non-empty str.

    Reads no settings: ``check_queue`` also checks ``DJANGO_JOBS["QUEUES"]``.
    """
    if not isinstance(queue, str) or not queue or len(queue) > QUEUE_MAX_LENGTH:
        raise InvalidJobOptionsError(
            f"queue must be a non-empty string of at most {QUEUE_MAX_LENGTH} characters, "
            f"got {queue!r:.80}."
        )
    return queue


def check_queue(queue: Any, allowed: Collection[str] | None) -> str:
    """Return ``queue`` or raise ``InvalidJobOptionsError`` for a bad name or one not ``allowed``.

    ``allowed`` is ``DJANGO_JOBS["QUEUES"]``: ``None`` allows any name.
    """
    check_queue_name(queue)
    if allowed is not None and queue not in allowed:
        raise InvalidJobOptionsError(
            f"Unknown queue {queue!r}; DJANGO_JOBS['QUEUES'] allows {sorted(allowed)}. "
            "Add it there or pick one of those."
        )
    return queue


def check_priority(priority: Any) -> int:
    """Return ``priority`` or raise ``InvalidJobOptionsError`` unless it is an int in -100..100.

    >>> check_priority(True)
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: priority must be an integer, got True.
    """
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidJobOptionsError(f"priority must be an integer, got {priority!r:.80}.")
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidJobOptionsError(
            f"priority {priority} is out of range: use {PRIORITY_MIN}..{PRIORITY_MAX}, "
            "higher runs first."
        )
    return priority


def check_max_attempts(max_attempts: Any) -> int:
    """Return ``max_attempts`` or raise ``InvalidJobOptionsError`` unless an int in 1..2**31-1.

    >>> check_max_attempts(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: max_attempts must be ... in 1..2147483647 ...
    """
    if (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= MAX_POSITIVE_INT
    ):
        raise InvalidJobOptionsError(
            f"max_attempts must be an integer in 1..{MAX_POSITIVE_INT} (1 means no retries), "
            f"got {max_attempts!r:.80}."
        )
    return max_attempts


def check_timeout_seconds(timeout_seconds: Any) -> int | None:
    """Return the timeout in whole seconds (rounded up), ``None`` for none, or raise.

    Raises ``InvalidJobOptionsError`` unless it is a finite number in (0, ``MAX_TIMEOUT_SECONDS``].

    >>> check_timeout_seconds(2.5)
    3
    """
    if timeout_seconds is None:
        return None
    seconds = check_seconds(
        timeout_seconds, "timeout_seconds", maximum=MAX_TIMEOUT_SECONDS, positive=True
    )
    return math.ceil(seconds)


def check_backoff_seconds(seconds: Any, name: str) -> float | None:
    """Return ``seconds`` as a float, ``None`` for the default, or raise ``InvalidJobOptionsError``.

    Must be finite, ``>= 0`` and at most ``MAX_BACKOFF_SECONDS``. ``name`` names the option.
    """
    if seconds is None:
        return None
    return check_seconds(seconds, name, maximum=MAX_BACKOFF_SECONDS)


def check_jitter(jitter: Any, name: str = "BACKOFF_JITTER") -> float:
    """Return ``jitter`` as a float, or raise ``InvalidJobOptionsError`` unless it is in 0..1."""
    if not _is_number(jitter) or not 0 <= jitter <= 1:
        raise InvalidJobOptionsError(
            f"{name} must be a number within 0..1, got {jitter!r:.80}; 0.2 shortens each "
            "delay by up to 20%."
        )
    return float(jitter)


def check_run_at(run_at: Any) -> datetime:
    """Return ``run_at`` or raise ``InvalidJobOptionsError`` if it is not an aware datetime."""
    if not isinstance(run_at, datetime):
        raise InvalidJobOptionsError(f"run_at must be a datetime, got {run_at!r:.80}.")
    if timezone.is_naive(run_at):
        raise InvalidJobOptionsError(
            f"run_at {run_at.isoformat()} is naive; pass an aware datetime, e.g. "
            "django.utils.timezone.now() + timedelta(...)."
        )
    return run_at


def check_snooze_seconds(seconds: Any) -> float:
    """Return a snooze's ``seconds`` as a float, or raise ``InvalidJobOptionsError``.

    Must be a finite number in 0..``MAX_SNOOZE_SECONDS`` (30 days); 0 runs the job again as
    soon as a worker is free.

    >>> check_snooze_seconds(90)
    90.0
    >>> check_snooze_seconds(float("nan"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: Snooze seconds must be ... got nan.
    """
    return check_seconds(seconds, "Snooze seconds", maximum=MAX_SNOOZE_SECONDS)


def check_max_snoozes(value: Any) -> int:
    """Return ``MAX_SNOOZES`` or raise ``InvalidJobOptionsError`` unless an int in 0..2**31-1.

    >>> check_max_snoozes(-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: MAX_SNOOZES must be an integer in ...
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITIVE_INT:
        raise InvalidJobOptionsError(
            f"MAX_SNOOZES must be an integer in 0..{MAX_POSITIVE_INT} (0: a snooze always "
            f"fails the attempt), got {value!r:.80}."
        )
    return value


def check_unique_for(seconds: Any) -> float | None:
    """Return ``unique_for`` as a float of seconds (None: not unique past the live job), or raise.

    Must be a finite number > 0 and at most ``MAX_UNIQUE_SECONDS`` (366 days).

    >>> check_unique_for(300)
    300.0
    """
    if seconds is None:
        return None
    return check_seconds(seconds, "unique_for", maximum=MAX_UNIQUE_SECONDS, positive=True)


def check_debounce_seconds(seconds: Any) -> float | None:
    """Return ``debounce_seconds`` as a float (None: no debounce), or raise.

    Must be a finite number >= 0 and at most ``MAX_UNIQUE_SECONDS`` (366 days); 0 replaces the
    queued job's arguments without pushing it later than now.

    >>> check_debounce_seconds(-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.InvalidJobOptionsError: debounce_seconds must be a finite number ...
    """
    if seconds is None:
        return None
    return check_seconds(seconds, "debounce_seconds", maximum=MAX_UNIQUE_SECONDS)


def check_delay(delay: Any) -> timedelta:
    """Return ``delay`` (seconds or a ``timedelta``) as a timedelta, or raise.

    Raises ``InvalidJobOptionsError`` unless it is finite, ``>= 0`` and at most 100 years.
    """
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    try:
        return timedelta(seconds=check_seconds(seconds, "delay", maximum=MAX_DELAY_SECONDS))
    except InvalidJobOptionsError:
        raise InvalidJobOptionsError(
            f"delay must be a finite number of seconds or a timedelta in 0..{MAX_DELAY_SECONDS} "
            f"seconds (100 years), got {delay!r:.80}."
        ) from None


def resolve_run_at(run_at: Any, delay: Any) -> datetime | None:
    """Return the absolute ``run_at`` for ``run_at`` or ``delay`` (seconds or a timedelta).

    Raises ``InvalidJobOptionsError`` when both are given or either is bad.
    """
    if delay is None:
        return None if run_at is None else check_run_at(run_at)
    if run_at is not None:
        raise InvalidJobOptionsError("Give run_at or delay, not both.")
    return timezone.now() + check_delay(delay)


def check_idempotency_key(key: Any) -> str | None:
    """Return ``key`` or raise ``InvalidJobOptionsError`` unless it is a short non-empty str."""
    if key is None:
        return None
    if (
        not isinstance(key, str)
        or not key
        or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH
        or not _storable_text(key)
    ):
        raise InvalidJobOptionsError(
            f"idempotency_key must be a non-empty string of at most {IDEMPOTENCY_KEY_MAX_LENGTH} "
            f"characters, with no NUL or lone surrogate, got {key!r:.80}."
        )
    return key


def check_task_path(path: Any) -> str:
    """Return ``path`` or raise ``InvalidJobOptionsError`` unless it fits ``Job.task_path``."""
    if not isinstance(path, str) or not _MODULE_PATH.fullmatch(path) or "." not in path:
        raise InvalidJobOptionsError(
            f"A task path is a dotted 'module.name' of Python identifiers, got {path!r:.80}."
        )
    if len(path) > TASK_PATH_MAX_LENGTH:
        raise InvalidJobOptionsError(
            f"Task path {path:.80}... is {len(path)} characters; at most "
            f"{TASK_PATH_MAX_LENGTH} fit. Use a shorter module or function name."
        )
    return path


def check_module_prefixes(prefixes: Any, name: str = "TASK_MODULES") -> tuple[str, ...]:
    """Return ``prefixes`` as a tuple, or raise unless it is a list or tuple of module names.

    >>> check_module_prefixes(["app.jobs"])
    ('app.jobs',)
    """
    if isinstance(prefixes, list | tuple) and all(
        isinstance(p, str) and _MODULE_PATH.fullmatch(p) for p in prefixes
    ):
        return tuple(prefixes)
    raise InvalidJobOptionsError(
        f"{name} must be a list of dotted module names, got {prefixes!r:.80}; e.g. "
        "['myproject.jobs'] lets the plain functions of myproject.jobs and its submodules run "
        "as tasks."
    )


def check_worker_id(worker_id: Any) -> str:
    """Return ``worker_id``, or raise unless it is 1..128 printable characters (the column)."""
    if (
        not isinstance(worker_id, str)
        or not worker_id
        or len(worker_id) > WORKER_ID_MAX_LENGTH
        or not worker_id.isprintable()
    ):
        raise InvalidJobOptionsError(
            f"A worker id must be 1..{WORKER_ID_MAX_LENGTH} printable characters, got "
            f"{worker_id!r:.80}" + (f" ({len(worker_id)} characters)." if worker_id else ".")
        )
    return worker_id


def check_max_bytes(value: Any, name: str) -> int | None:
    """Return a size limit in bytes (``None``: no limit), or raise ``InvalidJobOptionsError``.

    A limit is an int in 1..``MAX_JSON_BYTES`` (255 MiB, the most ``jsonb`` holds).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JSON_BYTES:
        raise InvalidJobOptionsError(
            f"{name} must be a number of bytes in 1..{MAX_JSON_BYTES} (255 MiB), or None for no "
            f"limit, got {value!r:.80}."
        )
    return value


# JSON ------------------------------------------------------------------------------------------


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
