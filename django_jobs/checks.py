"""System checks for the DJANGO_JOBS setting. Ids are stable: django_jobs.E001, W001...

``manage.py check`` and every worker start run them, so a bad setting fails loudly at deploy time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from .conf import DEFAULTS, jobs_settings


def _error(id_: str, msg: str, hint: str) -> checks.CheckMessage:
    return checks.Error(msg, hint=hint, id=f"django_jobs.{id_}")


def _is_number(value: Any, *, minimum: float, inclusive: bool = True) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value >= minimum if inclusive else value > minimum


@checks.register()
def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Check every DJANGO_JOBS key for type and range; return the problems found."""
    jobs_settings.reload()
    user = jobs_settings.user_settings
    errors: list[Any] = []
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(
            checks.Warning(
                f"DJANGO_JOBS has unknown keys {unknown}.",
                hint=f"Known keys: {sorted(DEFAULTS)}. Check the spelling.",
                id="django_jobs.W001",
            )
        )
    queues = jobs_settings.QUEUES
    if queues is not None and (
        isinstance(queues, str)
        or not isinstance(queues, list | tuple | set | frozenset)
        or not all(isinstance(q, str) and q for q in queues)
    ):
        errors.append(
            _error("E001", f"DJANGO_JOBS['QUEUES'] must be None or a list of names, "
                   f"got {queues!r}.",
                   "Use None to allow any queue, or e.g. ['default', 'mail'].")
        )  # fmt: skip
    elif queues is not None and jobs_settings.DEFAULT_QUEUE not in queues:
        errors.append(
            _error("E002", f"DJANGO_JOBS['DEFAULT_QUEUE'] {jobs_settings.DEFAULT_QUEUE!r} is "
                   f"not in QUEUES {sorted(queues)}.", "Add it to QUEUES or pick one of them.")
        )  # fmt: skip
    priority = jobs_settings.DEFAULT_PRIORITY
    if isinstance(priority, bool) or not isinstance(priority, int) or not -100 <= priority <= 100:
        errors.append(
            _error("E003", f"DJANGO_JOBS['DEFAULT_PRIORITY'] must be an int in -100..100, got "
                   f"{priority!r}.", "0 is the usual default.")
        )  # fmt: skip
    attempts = jobs_settings.MAX_ATTEMPTS
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        errors.append(
            _error("E004", f"DJANGO_JOBS['MAX_ATTEMPTS'] must be an int >= 1, got {attempts!r}.",
                   "1 means no retries.")
        )  # fmt: skip
    errors.extend(_check_durations())
    errors.extend(_check_status_permission())
    return errors


def _check_status_permission() -> list[Any]:
    path = jobs_settings.STATUS_PERMISSION
    try:
        hook = import_string(path) if isinstance(path, str) else None
    except ImportError as exc:
        hook, reason = None, f"does not import ({exc})"
    else:
        reason = "is not a dotted path to a callable"
    if callable(hook):
        return []
    return [
        _error("E009", f"DJANGO_JOBS['STATUS_PERMISSION'] {path!r} {reason}.",
               "Point it at a function f(request, job_id) -> bool, e.g. "
               "'django_jobs.permissions.staff_only'.")
    ]  # fmt: skip


def _check_durations() -> list[Any]:
    errors: list[Any] = []
    for name in ("BACKOFF_BASE_SECONDS", "BACKOFF_MAX_SECONDS", "SHUTDOWN_GRACE_SECONDS"):
        value = getattr(jobs_settings, name)
        if not _is_number(value, minimum=0):
            errors.append(
                _error("E005", f"DJANGO_JOBS['{name}'] must be a number of seconds >= 0, got "
                       f"{value!r}.", "See docs/reference/settings.md for the defaults.")
            )  # fmt: skip
    for name in ("POLL_INTERVAL_SECONDS", "LEASE_SECONDS", "HEARTBEAT_SECONDS"):
        value = getattr(jobs_settings, name)
        if not _is_number(value, minimum=0, inclusive=False):
            errors.append(
                _error("E006", f"DJANGO_JOBS['{name}'] must be a number of seconds > 0, got "
                       f"{value!r}.", "See docs/reference/settings.md for the defaults.")
            )  # fmt: skip
    jitter = jobs_settings.BACKOFF_JITTER
    if not _is_number(jitter, minimum=0) or jitter > 1:
        errors.append(
            _error("E007", f"DJANGO_JOBS['BACKOFF_JITTER'] must be within 0..1, got {jitter!r}.",
                   "0.2 shortens each delay by up to 20%.")
        )  # fmt: skip
    lease, beat = jobs_settings.LEASE_SECONDS, jobs_settings.HEARTBEAT_SECONDS
    if not errors and beat * 3 > lease:
        errors.append(
            _error("E008", f"DJANGO_JOBS['HEARTBEAT_SECONDS'] ({beat}) must be at most a third of "
                   f"LEASE_SECONDS ({lease}), or one slow heartbeat lets a healthy job's lease "
                   "expire and the job run twice.",
                   "Keep the defaults (10 and 60) or lower HEARTBEAT_SECONDS.")
        )  # fmt: skip
    return errors
