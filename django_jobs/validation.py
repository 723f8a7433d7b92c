"""One validator per job option and setting, shared by every place a value can be given.

``enqueue``, ``@job``, ``Task.using``, the ``django.tasks`` backend, the system checks, the
scheduler's schedule checks and ``runworker`` all call these, so the same bad value gets the same
message wherever it is given. Each validator returns the value in the form that is stored and
raises ``InvalidJobOptionsError`` (``SerializationError`` for call data and results); checks wrap
the message into a ``checks.Error`` with their id. Bounds are what the columns hold
(``PositiveIntegerField``: 2147483647) or a documented maximum (docs/reference/settings.md).

Nothing here touches the database or reads settings except where a function says so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from .exceptions import InvalidJobOptionsError, SerializationError

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


def encode_json(
    value: Any, *, what: str, max_bytes: int | None, limit_name: str | None = None
) -> str:
    """Return ``value`` as JSON text that PostgreSQL's ``jsonb`` accepts, or raise.

    The text is compact UTF-8-ready JSON: no NaN or infinity, no NUL character (``\\u0000``,
    which ``jsonb`` refuses) and no lone surrogate, in values or dict keys at any depth. ``what``
    names the value in messages, without its article (e.g. ``"result of task app.jobs.f"``);
    ``max_bytes`` is the largest size allowed, counted as UTF-8 bytes of the text (``None``: no
    limit), and ``limit_name`` the setting that sets it, for the message (e.g.
    ``RESULT_LIMIT_NAME``). Raises ``SerializationError`` saying what was wrong and where, before
    anything is written.

    >>> encode_json({"a": [1, "é"]}, what="x", max_bytes=None)
    '{"a":[1,"é"]}'
    >>> encode_json(["ok", {"k": "a\\x00b"}], what="result", max_bytes=None)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.SerializationError: The result contains a NUL ... at [1]['k'], ...
    """
    text = _dumps(value, what)
    size = len(_utf8(text, value, what))
    check_size(size, what=what, max_bytes=max_bytes, limit_name=limit_name)
    return text


def check_size(
    size: int, *, what: str, max_bytes: int | None, limit_name: str | None = None
) -> None:
    """Raise ``SerializationError`` if ``size`` bytes of ``what`` exceed ``max_bytes``.

    >>> check_size(2048, what="result", max_bytes=1024)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.SerializationError: The result is 2.0 KiB (2048 bytes) ... id instead.
    """
    if max_bytes is not None and size > max_bytes:
        setting = f", {limit_name}" if limit_name else ""
        raise SerializationError(
            f"The {what} is {_human(size)} ({size} bytes) as JSON, over the limit of "
            f"{_human(max_bytes)} ({max_bytes} bytes{setting}). Store the data elsewhere (a "
            "model, a file in storage) and pass its id instead."
        )


def encode_call(
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    max_bytes: int | None,
    limit_name: str | None = ARGUMENTS_LIMIT_NAME,
) -> tuple[str, str]:
    """Return ``(args_json, kwargs_json)`` for a task call, or raise ``SerializationError``.

    Every argument must be JSON (see ``encode_json``) and ``kwargs`` keys must be str; the error
    names the first bad argument. ``max_bytes`` bounds both texts together (UTF-8 bytes).
    """
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise SerializationError(f"args must be a list or tuple, got {args!r:.80}.")
    if not isinstance(kwargs, Mapping):
        raise SerializationError(f"kwargs must be a dict, got {kwargs!r:.80}.")
    bad_keys = [key for key in kwargs if not isinstance(key, str)]
    if bad_keys:
        raise SerializationError(
            f"Keyword argument names must be strings, got {bad_keys[0]!r:.80}."
        )
    try:
        args_json = encode_json(list(args), what="positional arguments", max_bytes=None)
        kwargs_json = encode_json(dict(kwargs), what="keyword arguments", max_bytes=None)
    except SerializationError:
        # Name the culprit: check each argument on its own.
        for index, value in enumerate(args):
            encode_json(value, what=f"positional argument {index}", max_bytes=None)
        for name, value in kwargs.items():
            encode_json(value, what=f"keyword argument {name!r}", max_bytes=None)
        raise
    size = len(args_json.encode()) + len(kwargs_json.encode())
    check_size(size, what="arguments (args and kwargs)", max_bytes=max_bytes, limit_name=limit_name)
    return args_json, kwargs_json


def _dumps(value: Any, what: str) -> str:
    try:
        # ensure_ascii=False leaves lone surrogates as they are, for _utf8 to find; with it on
        # they would become \ud800 escapes, which jsonb refuses too.
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"The {what} ({type(value).__name__}: {value!r:.80}) is not JSON-serialisable: "
            f"{exc}. Pass plain data (str, int, float, bool, None, lists, dicts; dict keys become "
            "strings): an id instead of a model instance, an ISO 8601 string instead of a "
            "datetime."
        ) from exc
    # json.dumps always escapes control characters, so a NUL can only appear as the escape;
    # "\\u0000" inside an escaped backslash ("\\\\u0000") is a false alarm that _find rules out.
    if "\\u0000" in text:
        found = _find(value, "", lambda s: "\x00" in s)
        if found is not None:
            raise SerializationError(
                f"The {what} contains a NUL character (\\x00) at {found or 'the top'}, "
                "which PostgreSQL cannot store in JSON. Remove it, or send binary data as "
                "base64 text."
            )
    return text


def _utf8(text: str, value: Any, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        found = _find(value, "", lambda s: not _storable_text(s))
        raise SerializationError(
            f"The {what} contains a lone surrogate at {found or 'the top'}, which is not "
            "valid Unicode (often bytes decoded with errors='surrogateescape'). Decode the bytes "
            "properly, or send them as base64 text."
        ) from None


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _find(value: Any, where: str, bad: Any) -> str | None:
    # Depth-first walk to the first string (value or key) for which bad(s) holds; its location.
    if isinstance(value, str):
        return where if bad(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and bad(key):
                return f"the key {key!r:.40}" + (f" in {where}" if where else "")
            found = _find(item, f"{where}[{key!r:.40}]", bad)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, f"{where}[{index}]", bad)
            if found is not None:
                return found
    return None


def _human(size: int) -> str:
    """Return ``size`` bytes for people.

    >>> _human(1536), _human(5 * 1024 * 1024)
    ('1.5 KiB', '5.0 MiB')
    """
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def encode_result(result: Any, *, task_path: str) -> str:
    """Return a task's ``result`` as ``jsonb``-safe JSON text, or raise ``SerializationError``.

    The worker's check of a return value before it is written: ``encode_json`` under
    ``DJANGO_JOBS["MAX_RESULT_BYTES"]`` (read here), naming the task in the message.
    """
    from .conf import jobs_settings

    return encode_json(
        result,
        what=f"result of task {task_path}",
        max_bytes=jobs_settings.MAX_RESULT_BYTES,
        limit_name=RESULT_LIMIT_NAME,
    )
