"""``Schedule``: one entry of ``DJANGO_JOBS["SCHEDULES"]``, checked, with its fire times.

A schedule only says which task to enqueue and when; the jobs it makes are ordinary jobs. Every
problem with an entry has its own system check id (``django_jobs.E1xx``), listed in
``docs/reference/scheduler.md``; ``problems()`` finds them and ``load_schedules()`` refuses to
build schedules while any exists, so a bad entry fails ``manage.py check`` and the scheduler's
start rather than its first fire time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from django.conf import settings

from .. import registry, validation
from ..conf import jobs_settings
from ..exceptions import (
    ConfigurationError,
    InvalidJobOptionsError,
    SerializationError,
    UnknownTaskError,
)
from . import crontime

#: Ledger names of manual runs end with this; schedule names cannot contain "/".
MANUAL_SUFFIX = "/run-now"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,149}")
MISFIRE_POLICIES = ("skip", "latest")
MAX_CATCH_UP = 1000
DEFAULT_MISFIRE = "latest"
DEFAULT_MISFIRE_GRACE_SECONDS = 60.0
#: A fire time may be at most a year late and still count as on time.
MAX_MISFIRE_GRACE_SECONDS = 366 * validation.DAY_SECONDS
REQUIRED_KEYS = frozenset({"task", "cron"})
OPTIONAL_KEYS = frozenset(
    {"timezone", "args", "kwargs", "queue", "priority", "misfire", "misfire_grace_seconds"}
)


class Problem(NamedTuple):
    """What is wrong with a schedule: a check id (``E1xx``), a message and a hint."""

    id: str
    message: str
    hint: str


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """A checked schedule: enqueue ``task(*args, **kwargs)`` at each fire time of ``cron``.

    ``cron`` is read at wall time in ``timezone``. ``queue`` and ``priority`` of ``None`` take
    the task's ``@job`` options, then the ``DJANGO_JOBS`` defaults. ``misfire`` is ``"skip"``,
    ``"latest"`` or the int N of "catch up to N"; see ``due()``.
    """

    name: str
    task: str
    cron: str
    timezone: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    misfire: str | int = DEFAULT_MISFIRE
    misfire_grace_seconds: float = DEFAULT_MISFIRE_GRACE_SECONDS

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    @property
    def manual_name(self) -> str:
        """The ledger name of this schedule's manual runs, kept apart from its fire times."""
        return self.name + MANUAL_SUFFIX

    def next_fire_at(self, after: datetime) -> datetime | None:
        """Return the first fire time strictly after aware ``after`` (UTC), or ``None`` if none."""
        try:
            return crontime.next_fire_at(self.cron, self.zone, after)
        except CroniterBadDateError:
            return None

    def due(self, since: datetime, now: datetime) -> list[tuple[datetime, bool]]:
        """Return what to record for the fire times in ``(since, now]``, oldest first.

        Each item is ``(fire_at, enqueue)``. Under ``"latest"`` only the newest fire time is
        enqueued; under N, the N newest. Under ``"skip"`` the fire times at most
        ``misfire_grace_seconds`` old are enqueued; when none is, the newest one comes back with
        ``enqueue`` false, so the ledger moves past what was skipped. Fire times left out are
        dropped: the ledger records the newest, and the next pass starts after it.
        """
        skip = self.misfire == "skip"
        limit = None if skip else 1 if self.misfire == "latest" else int(self.misfire)
        oldest_on_time = now - timedelta(seconds=self.misfire_grace_seconds)
        chosen: list[datetime] = []
        for fire_at in crontime.fire_times_back(self.cron, self.zone, now):
            if fire_at <= since or (limit is not None and len(chosen) >= limit):
                break
            if skip and fire_at < oldest_on_time:
                # Older ones are later still; if none was on time, record this one as skipped.
                if not chosen:
                    return [(fire_at, False)]
                break
            chosen.append(fire_at)
        return [(f, True) for f in reversed(chosen)]


def load_schedules(raw: Any = None) -> dict[str, Schedule]:
    """Return the schedules of ``DJANGO_JOBS["SCHEDULES"]`` (or of ``raw``) by name.

    Raises ``ConfigurationError`` naming the first problem, the same one ``manage.py check``
    reports.
    """
    raw = jobs_settings.SCHEDULES if raw is None else raw
    found = problems(raw)
    if found:
        first = found[0]
        raise ConfigurationError(f"{first.message} {first.hint} (django_jobs.{first.id})")
    return {name: _build(name, spec) for name, spec in raw.items()}


def problems(raw: Any) -> list[Problem]:
    """Return every problem of a ``SCHEDULES`` value, schedule by schedule."""
    if not isinstance(raw, Mapping):
        return [
            Problem(
                "E101",
                f"DJANGO_JOBS['SCHEDULES'] must be a dict of name -> schedule, got {raw!r:.80}.",
                "e.g. {'nightly-cleanup': {'task': 'app.jobs.cleanup', 'cron': '0 3 * * *'}}.",
            )
        ]
    found: list[Problem] = []
    for name, spec in raw.items():
        found.extend(schedule_problems(name, spec))
    return found


def schedule_problems(name: Any, spec: Any) -> list[Problem]:
    """Return the problems of one schedule entry; an empty list means ``_build`` will work."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return [
            Problem(
                "E102",
                f"Schedule name {name!r:.80} is not allowed.",
                "Use 1-150 letters, digits, '_', '.', ':' or '-', starting with a letter or "
                "digit, e.g. 'nightly-cleanup'.",
            )
        ]
    if not isinstance(spec, Mapping):
        return [_problem("E103", name, f"must be a dict, got {spec!r:.80}", _KEYS_HINT)]
    missing = sorted(REQUIRED_KEYS - set(spec))
    unknown = sorted(set(spec) - REQUIRED_KEYS - OPTIONAL_KEYS, key=str)
    if missing:
        return [_problem("E103", name, f"lacks the keys {missing}", _KEYS_HINT)]
    if unknown:
        return [_problem("E103", name, f"has unknown keys {unknown}", _KEYS_HINT)]
    checks = (_cron_problem, _task_problem, _timezone_problem, _call_problem, _options_problem,
              _misfire_problem)  # fmt: skip
    return [p for check in checks if (p := check(name, spec)) is not None]


_KEYS_HINT = (
    f"Required: {sorted(REQUIRED_KEYS)}; optional: {sorted(OPTIONAL_KEYS)}. "
    "See docs/reference/scheduler.md."
)


def _problem(id_: str, name: str, what: str, hint: str) -> Problem:
    return Problem(id_, f"Schedule {name!r} {what.rstrip('.')}.", hint)


def _cron_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    cron = spec["cron"]
    hint = (
        "Use five fields ('0 3 * * *'), six with seconds last ('* * * * * */10'), or an alias "
        "such as '@hourly' or '@daily'."
    )
    if not isinstance(cron, str) or not (cron.startswith("@") or len(cron.split()) in (5, 6)):
        return _problem("E104", name, f"has a bad cron expression {cron!r:.80}", hint)
    try:
        walk = croniter(cron, datetime(2000, 1, 1))
    except ValueError as exc:  # croniter's errors are ValueErrors
        return _problem("E104", name, f"has a bad cron expression {cron!r}: {exc}", hint)
    try:
        walk.get_next(datetime)
    except CroniterBadDateError:
        return _problem("E104", name, f"has a cron expression {cron!r} that never fires", hint)
    return None


def _task_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    task = spec["task"]
    if not isinstance(task, str):
        return _problem("E105", name, f"task must be a dotted path string, got {task!r:.80}",
                        "e.g. 'app.jobs.cleanup'.")  # fmt: skip
    try:
        registry.load(task)
    except UnknownTaskError as exc:
        return _problem("E105", name, f"names no task: {exc}",
                        "Point 'task' at a @job task, a django.tasks task, or a function of a "
                        "module in DJANGO_JOBS['TASK_MODULES'].")  # fmt: skip
    return None


def _timezone_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    zone = spec.get("timezone")
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return _problem("E106", name, f"has an unknown time zone {zone!r:.80}",
                        "Use an IANA name such as 'Europe/Helsinki' or 'UTC'; on Windows, "
                        "install the tzdata package.")  # fmt: skip
    return None


def _call_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    args, kwargs = spec.get("args", []), spec.get("kwargs", {})
    hint = "args is a list and kwargs a dict with str keys, of JSON-serialisable values."
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
        return _problem("E107", name, f"has bad args {args!r:.60} or kwargs {kwargs!r:.60}", hint)
    if not all(isinstance(key, str) for key in kwargs):
        return _problem("E107", name, f"has kwargs with non-str keys {list(kwargs)!r:.80}", hint)
    try:
        validation.encode_call(args, kwargs, max_bytes=jobs_settings.MAX_ARGUMENTS_BYTES)
    except SerializationError as exc:
        return _problem("E107", name, f"cannot serialise its call: {exc}", hint)
    return None


def _options_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    try:
        if spec.get("queue") is not None:
            validation.check_queue(spec["queue"], jobs_settings.QUEUES)
        if spec.get("priority") is not None:
            validation.check_priority(spec["priority"])
    except InvalidJobOptionsError as exc:
        return _problem("E108", name, f"has a bad job option: {exc}",
                        "Leave queue and priority out to use the task's own.")  # fmt: skip
    return None


def _misfire_problem(name: str, spec: Mapping[str, Any]) -> Problem | None:
    misfire = spec.get("misfire", DEFAULT_MISFIRE)
    grace = spec.get("misfire_grace_seconds", DEFAULT_MISFIRE_GRACE_SECONDS)
    ok_int = isinstance(misfire, int) and not isinstance(misfire, bool)
    if not (misfire in MISFIRE_POLICIES or (ok_int and 1 <= misfire <= MAX_CATCH_UP)):
        return _problem("E109", name, f"has a bad misfire policy {misfire!r:.80}",
                        f"Use 'skip', 'latest' (the default) or an int 1..{MAX_CATCH_UP} to "
                        "catch up on that many missed fire times.")  # fmt: skip
    try:
        validation.check_seconds(
            grace, "misfire_grace_seconds", maximum=MAX_MISFIRE_GRACE_SECONDS, positive=True
        )
    except InvalidJobOptionsError as exc:
        return _problem("E109", name, str(exc), "The default is 60.")
    return None


def _build(name: str, spec: Mapping[str, Any]) -> Schedule:
    return Schedule(
        name=name,
        task=spec["task"],
        cron=spec["cron"],
        timezone=spec.get("timezone") or default_timezone(),
        args=tuple(spec.get("args", ())),
        kwargs=dict(spec.get("kwargs", {})),
        queue=spec.get("queue"),
        priority=spec.get("priority"),
        misfire=spec.get("misfire", DEFAULT_MISFIRE),
        misfire_grace_seconds=float(
            spec.get("misfire_grace_seconds", DEFAULT_MISFIRE_GRACE_SECONDS)
        ),
    )


def default_timezone() -> str:
    """Return the zone of schedules that name none: ``settings.TIME_ZONE``, else UTC."""
    return getattr(settings, "TIME_ZONE", None) or "UTC"
