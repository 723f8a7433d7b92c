"""System checks for the DJANGO_JOBS setting, the database routing and the registered tasks.

Ids are stable and in ranges per area, listed once in docs/reference/checks.md: settings and
database E001-E099 (W001-W099), schedules E101-E199 (``scheduler/checks.py``), the
``django.tasks`` backend E201-E299 (``backends/``), tasks E301-E399. ``manage.py check`` and
every worker start run them, so a bad setting fails loudly at deploy time. Values are checked by
the validators of ``django_jobs.validation``, the same ones ``enqueue`` uses, and their message
is the check's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, router
from django.utils.module_loading import import_string

from . import registry, validation
from .conf import DEFAULTS, jobs_settings
from .exceptions import InvalidJobOptionsError

DOCS_HINT = "See docs/reference/settings.md for the defaults and bounds."


def _error(id_: str, msg: str, hint: str = DOCS_HINT) -> checks.CheckMessage:
    return checks.Error(msg, hint=hint, id=f"django_jobs.{id_}")


@checks.register()
def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Check every DJANGO_JOBS key for type and range; return the problems found."""
    jobs_settings.reload()
    raw = getattr(settings, "DJANGO_JOBS", None)
    if raw is not None and not isinstance(raw, Mapping):
        return [
            _error("E010", f"DJANGO_JOBS must be a dict, got {type(raw).__name__} {raw!r:.80}.",
                   "e.g. DJANGO_JOBS = {'MAX_ATTEMPTS': 5}; until then the defaults apply.")
        ]  # fmt: skip
    errors: list[Any] = []
    unknown = sorted(set(jobs_settings.user_settings) - set(DEFAULTS), key=str)
    if unknown:
        errors.append(
            checks.Warning(
                f"DJANGO_JOBS has unknown keys {unknown}.",
                hint=f"Known keys: {sorted(DEFAULTS)}. Check the spelling.",
                id="django_jobs.W001",
            )
        )
    errors.extend(_check_queues())
    errors.extend(_check_values())
    errors.extend(_check_durations())
    errors.extend(_check_status_permission())
    errors.extend(_check_retention())
    errors.extend(_check_metrics())
    errors.extend(_check_listen_url())
    return errors


def _problem(id_: str, name: str, check: Callable[[Any], Any], hint: str = DOCS_HINT) -> list[Any]:
    # Run one validator on one setting; its message, prefixed with the setting, is the check's.
    try:
        check(getattr(jobs_settings, name))
    except InvalidJobOptionsError as exc:
        return [_error(id_, f"DJANGO_JOBS['{name}']: {exc}", hint)]
    return []


def _check_queues() -> list[Any]:
    queues = jobs_settings.QUEUES
    if queues is not None and (
        isinstance(queues, str)
        or not isinstance(queues, list | tuple | set | frozenset | Mapping)
        or not all(_is_queue_name(q) for q in queues)
    ):
        return [
            _error("E001", f"DJANGO_JOBS['QUEUES'] must be None, a list of queue names (1-"
                   f"{validation.QUEUE_MAX_LENGTH} characters) or a dict of them to their "
                   f"limits, got {queues!r:.80}.",
                   "Use None to allow any queue, or e.g. ['default', 'mail'], or "
                   "{'default': None, 'mail': {'concurrency': 2, 'rate_limit': '10/s'}}.")
        ]  # fmt: skip
    errors = _check_queue_limits(queues) if isinstance(queues, Mapping) else []
    errors += _problem("E002", "DEFAULT_QUEUE", lambda q: validation.check_queue(q, queues),
                      "Add it to QUEUES or pick one of them.")  # fmt: skip
    return errors


def _check_queue_limits(queues: Mapping[str, Any]) -> list[Any]:
    # E080: one error per queue whose options are wrong (the validator's message).
    errors = []
    for queue, options in queues.items():
        try:
            validation.check_queue_options(queue, options)
        except InvalidJobOptionsError as exc:
            errors.append(
                _error("E080", f"DJANGO_JOBS['QUEUES']: {exc}",
                       "Each queue maps to None or {'concurrency': N, 'rate_limit': 'N/s|m|h'}; "
                       "see docs/reference/settings.md.")
            )  # fmt: skip
    return errors


def _is_queue_name(queue: Any) -> bool:
    try:
        validation.check_queue_name(queue)
    except InvalidJobOptionsError:
        return False
    return True


def _check_values() -> list[Any]:
    errors = _problem("E003", "DEFAULT_PRIORITY", validation.check_priority, "0 is the default.")
    errors += _problem("E004", "MAX_ATTEMPTS", validation.check_max_attempts, "1: no retries.")
    errors += _problem("E060", "MAX_SNOOZES", validation.check_max_snoozes,
                       "100 is the default; 0 makes every snooze a failure.")  # fmt: skip
    errors += _problem(
        "E011",
        "TASK_MODULES",
        validation.check_module_prefixes,
        "Leave it empty to run only @job and django.tasks tasks.",
    )
    for name in ("MAX_ARGUMENTS_BYTES", "MAX_RESULT_BYTES"):
        errors += _problem("E012", name, functools.partial(validation.check_max_bytes, name=name))
    if not isinstance(jobs_settings.ASYNC_COMMIT, bool):
        errors.append(
            _error("E013", f"DJANGO_JOBS['ASYNC_COMMIT'] must be True or False, got "
                   f"{jobs_settings.ASYNC_COMMIT!r:.80}.",
                   "True (the default) or False; see docs/reference/settings.md.")
        )  # fmt: skip
    return errors


#: Setting -> (largest value in seconds, whether 0 is refused).
DURATIONS = {
    "BACKOFF_BASE_SECONDS": (validation.MAX_BACKOFF_SECONDS, False),
    "BACKOFF_MAX_SECONDS": (validation.MAX_BACKOFF_SECONDS, False),
    "SHUTDOWN_GRACE_SECONDS": (validation.DAY_SECONDS, False),
    "POLL_INTERVAL_SECONDS": (3600, True),
    "LEASE_SECONDS": (validation.DAY_SECONDS, True),
    "HEARTBEAT_SECONDS": (validation.DAY_SECONDS, True),
}


def _check_durations() -> list[Any]:
    errors: list[Any] = []
    for name, (maximum, positive) in DURATIONS.items():
        errors += _problem(
            "E006" if positive else "E005",
            name,
            functools.partial(
                validation.check_seconds, name=name, maximum=maximum, positive=positive
            ),
        )
    errors += _problem("E007", "BACKOFF_JITTER", validation.check_jitter,
                       "0.2 shortens each delay by up to 20%.")  # fmt: skip
    lease, beat = jobs_settings.LEASE_SECONDS, jobs_settings.HEARTBEAT_SECONDS
    if not errors and beat * 3 > lease:
        errors.append(
            _error("E008", f"DJANGO_JOBS['HEARTBEAT_SECONDS'] ({beat}) must be at most a third of "
                   f"LEASE_SECONDS ({lease}), or one slow heartbeat lets a healthy job's lease "
                   "expire and the job run twice.",
                   "Keep the defaults (10 and 60) or lower HEARTBEAT_SECONDS.")
        )  # fmt: skip
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


#: Retention setting -> its check id; each is None (keep forever) or seconds > 0.
RETENTIONS = {
    "DONE_RETENTION_SECONDS": "E030",
    "CANCELLED_RETENTION_SECONDS": "E031",
    "DEAD_RETENTION_SECONDS": "E032",
    "SCHEDULE_RUN_RETENTION_SECONDS": "E033",
}


def _check_retention_value(value: Any, name: str) -> None:
    if value is not None:
        validation.check_seconds(
            value, name=name, maximum=validation.MAX_DELAY_SECONDS, positive=True
        )


def _check_retention() -> list[Any]:
    errors: list[Any] = []
    for name, id_ in RETENTIONS.items():
        errors += _problem(
            id_,
            name,
            functools.partial(_check_retention_value, name=name),
            "None keeps these rows forever; e.g. 7 * 86400 keeps them a week.",
        )
    errors += _problem(
        "E034",
        "PRUNE_INTERVAL_SECONDS",
        functools.partial(
            validation.check_seconds,
            name="PRUNE_INTERVAL_SECONDS",
            maximum=validation.DAY_SECONDS,
            positive=True,
        ),
        "60 (the default) prunes once a minute.",
    )
    return errors


#: The shortest METRICS_TOKEN accepted: 16 characters of secrets.token_urlsafe are 96 bits.
METRICS_TOKEN_MIN_LENGTH = 16


def _check_metrics() -> list[Any]:
    errors: list[Any] = []
    path = jobs_settings.METRICS_PERMISSION
    try:
        hook = import_string(path) if isinstance(path, str) else None
    except ImportError as exc:
        hook, reason = None, f"does not import ({exc})"
    else:
        reason = "is not a dotted path to a callable"
    if not callable(hook):
        errors.append(
            _error("E040", f"DJANGO_JOBS['METRICS_PERMISSION'] {path!r} {reason}.",
                   "Point it at a function f(request) -> bool, e.g. "
                   "'django_jobs.permissions.can_scrape_metrics'.")
        )  # fmt: skip
    token = jobs_settings.METRICS_TOKEN
    if token is not None and (
        not isinstance(token, str) or len(token.strip()) < METRICS_TOKEN_MIN_LENGTH
        or token != token.strip()
    ):  # fmt: skip
        errors.append(
            _error("E041", f"DJANGO_JOBS['METRICS_TOKEN'] must be None or a string of at least "
                   f"{METRICS_TOKEN_MIN_LENGTH} characters without surrounding spaces; got a "
                   f"{type(token).__name__} that is not.",
                   'Generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"')
        )  # fmt: skip
    return errors


LISTEN_HINT = (
    "Set it to a direct connection to the default database, e.g. "
    "'postgres://app@db.internal:5432/app', or to None to listen on the default database's "
    "settings (the worker polls when they lead through a pooler)."
)


def _check_listen_url() -> list[Any]:
    url = jobs_settings.LISTEN_DATABASE_URL
    if url is None:
        return []
    if not isinstance(url, str) or not url.strip():
        return [_error("E050", f"DJANGO_JOBS['LISTEN_DATABASE_URL'] must be None or a non-empty "
                       f"connection string, got {url!r:.80}.", LISTEN_HINT)]  # fmt: skip
    from django.db import connections

    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return [_error("E052", "DJANGO_JOBS['LISTEN_DATABASE_URL'] is set but the default "
                       f"database is {connections[DEFAULT_DB_ALIAS].vendor}, not PostgreSQL: "
                       "only PostgreSQL has LISTEN.", "Remove LISTEN_DATABASE_URL.")]  # fmt: skip
    import psycopg

    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        return [_error("E051", f"DJANGO_JOBS['LISTEN_DATABASE_URL'] is not a libpq connection "
                       f"URL or key=value string ({str(exc).strip()}).", LISTEN_HINT)]  # fmt: skip
    return []


@checks.register(checks.Tags.database)
def check_listen_database(
    app_configs: Iterable[Any] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Check that ``LISTEN_DATABASE_URL`` connects and hears NOTIFYs sent on ``default``.

    A database check: it runs with ``manage.py check --database default`` and before
    ``migrate``, and costs two connections and up to 5 seconds. Skipped while the settings
    check (E050-E052) finds the value itself wrong. A URL naming another database than
    ``default`` is only warned about (W050), without connecting: that is what a test run sees,
    whose ``default`` is the test database.
    """
    from . import listen_connection

    url = listen_connection.listen_url()
    if DEFAULT_DB_ALIAS not in (databases or ()) or url is None or _check_listen_url():
        return []
    import psycopg
    from django.db import OperationalError, connections

    named = psycopg.conninfo.conninfo_to_dict(url).get("dbname")
    default = connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
    if named is not None and named != default:
        return [checks.Warning(
            f"DJANGO_JOBS['LISTEN_DATABASE_URL'] names database {named!r} but the default "
            f"database is {default!r}: NOTIFY reaches only listeners of the same database, so "
            "workers would find new jobs by polling alone.",
            hint="Expected in a test run (the test database has its own name); elsewhere point "
            "the URL at the default database.", id="django_jobs.W050",
        )]  # fmt: skip
    try:
        problem = listen_connection.delivery_problem()
    except (OperationalError, psycopg.OperationalError) as exc:
        return [_error("E053", "DJANGO_JOBS['LISTEN_DATABASE_URL'] does not connect: "
                       f"{str(exc).strip():.300}", LISTEN_HINT)]  # fmt: skip
    if problem is not None:
        return [_error("E054", f"DJANGO_JOBS['LISTEN_DATABASE_URL']: {problem}.", LISTEN_HINT)]
    return []


@checks.register(checks.Tags.database)
def check_database_routing(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Refuse a router that sends django-jobs' tables to another alias than ``default``.

    The worker claims, heartbeats, rescues and dead-letters on the ``default`` connection, so
    its tables must live there; django-jobs supports one database alias.
    """
    from django.apps import apps

    errors = []
    for model in apps.get_app_config("django_jobs").get_models():
        routed = {
            "reads": router.db_for_read(model) or DEFAULT_DB_ALIAS,
            "writes": router.db_for_write(model) or DEFAULT_DB_ALIAS,
        }
        elsewhere = {what: alias for what, alias in routed.items() if alias != DEFAULT_DB_ALIAS}
        if elsewhere:
            errors.append(
                _error("E020", f"DATABASE_ROUTERS send {model._meta.label} "
                       + " and ".join(f"{what} to {alias!r}" for what, alias in elsewhere.items())
                       + "; django-jobs supports one database alias, 'default', where its "
                       "worker claims and records jobs.",
                       "Make your routers return None (or 'default') for the django_jobs app.")
            )  # fmt: skip
    return errors


@checks.register()
def check_task_queues(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Refuse ``@job(queue=...)`` tasks whose queue ``DJANGO_JOBS["QUEUES"]`` does not allow.

    Covers the tasks registered when the checks run: those of every module imported by then
    (models, admin, and the views that Django's URL checks import).
    """
    allowed = jobs_settings.QUEUES
    if not isinstance(allowed, list | tuple | set | frozenset | Mapping):
        return []  # None allows any queue; a bad QUEUES is E001
    errors = []
    for path, task in sorted(registry.registered_tasks().items()):
        queue = getattr(task, "queue", None)
        if queue is not None and queue not in allowed:
            errors.append(
                _error("E301", f"Task {path} has queue {queue!r}, which DJANGO_JOBS['QUEUES'] "
                       f"{sorted(allowed)} does not allow, so enqueueing it would fail.",
                       "Add the queue to DJANGO_JOBS['QUEUES'] or fix the @job(queue=...).")
            )  # fmt: skip
    return errors
