"""``JobsBackend``: run ``django.tasks`` tasks as django-jobs jobs.

``Task.enqueue()`` inserts a ``Job`` through ``django_jobs.enqueue.enqueue_job``, in the caller's
transaction, and ``runworker`` runs it like any other job: with retries, backoff, leases and the
rescue of jobs whose worker died. ``get_result()`` reads the job back as a ``TaskResult``.

Nothing here imports models at import time: ``@task`` builds the backend while the user's module
is imported, which may be before Django's app registry is ready.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils import timezone

from .. import registry, validation
from ..exceptions import InvalidJobOptionsError, UnknownTaskError
from .compat import (
    BaseTaskBackend,
    InvalidTask,
    InvalidTaskBackend,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    task_enqueued,
)

# OPTIONS key -> JobsTask field. None (or a missing key) takes the DJANGO_JOBS setting.
OPTIONS = {
    "MAX_ATTEMPTS": "max_attempts",
    "TIMEOUT_SECONDS": "timeout_seconds",
    "BACKOFF_BASE_SECONDS": "backoff_base_seconds",
    "BACKOFF_MAX_SECONDS": "backoff_max_seconds",
    "CONCURRENCY_LIMIT": "concurrency_limit",
}
MAX_JOB_ID = 2**63 - 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JobsTask(Task):
    """A ``django.tasks`` ``Task`` with django-jobs' per-task options.

    On Django 6.1 (and the ``django-tasks`` backport) ``@task(max_attempts=5,
    timeout_seconds=30)`` sets them; ``None`` takes the backend's ``OPTIONS``, then
    ``DJANGO_JOBS``. ``max_attempts`` counts the first run; durations are in seconds.
    ``concurrency_limit``: at most this many jobs of the task run at once across all workers
    (the task's module path is their concurrency key: ``django.tasks`` has no per-call key).
    """

    max_attempts: int | None = None
    timeout_seconds: float | None = None
    backoff_base_seconds: float | None = None
    backoff_max_seconds: float | None = None
    concurrency_limit: int | None = None


def check_option(name: str, value: Any) -> str | None:
    """Return what is wrong with option ``name`` (a ``JobsTask`` field) set to ``value``, if any.

    The messages are ``django_jobs.validation``'s, the same as for ``@job`` and ``enqueue``.

    >>> check_option("max_attempts", 0)
    'max_attempts must be an integer in 1..2147483647 (1 means no retries), got 0.'
    >>> check_option("timeout_seconds", 2.5) is None
    True
    """
    if value is None:
        return None
    try:
        if name == "max_attempts":
            validation.check_max_attempts(value)
        elif name == "timeout_seconds":
            validation.check_timeout_seconds(value)
        elif name == "concurrency_limit":
            validation.check_concurrency_limit(value)
        else:
            validation.check_backoff_seconds(value, name)
    except InvalidJobOptionsError as exc:
        return str(exc)
    return None


class JobsBackend(BaseTaskBackend):
    """A ``django.tasks`` backend whose tasks run as django-jobs jobs under ``runworker``.

    ``OPTIONS`` takes ``MAX_ATTEMPTS``, ``TIMEOUT_SECONDS``, ``BACKOFF_BASE_SECONDS``,
    ``BACKOFF_MAX_SECONDS`` and ``CONCURRENCY_LIMIT``, the defaults of this backend's jobs;
    each left out takes its ``DJANGO_JOBS`` setting. Raises ``InvalidTaskBackend`` for an
    unknown or bad option.
    """

    task_class = JobsTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.job_options = self._parse_options(self.options)

    def _parse_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidTaskBackend(
                f"TASKS[{self.alias!r}]['OPTIONS'] has unknown keys {unknown}; "
                f"JobsBackend takes {sorted(OPTIONS)}."
            )
        parsed = {}
        for key, name in OPTIONS.items():
            problem = check_option(name, options.get(key))
            if problem:
                raise InvalidTaskBackend(f"TASKS[{self.alias!r}]['OPTIONS']['{key}']: {problem}")
            parsed[name] = options.get(key)
        return parsed

    def validate_task(self, task: Task) -> None:
        """Apply Django's rules for a task, then check the django-jobs options it carries.

        Raises ``InvalidTask``.
        """
        super().validate_task(task)
        for name in OPTIONS.values():
            problem = check_option(name, getattr(task, name, None))
            if problem:
                raise InvalidTask(f"Task {task.module_path}: {problem}")

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        """Insert a job for ``task(*args, **kwargs)`` in the current transaction; return its result.

        The result is READY, its id the job's id. Raises ``InvalidTask`` for a task the worker
        could not import by its module path, and django-jobs' ``SerializationError`` or
        ``InvalidJobOptionsError`` for arguments or options the job cannot take; nothing is
        inserted then. Sends ``task_enqueued`` after the INSERT, inside the transaction.
        """
        from ..enqueue import enqueue_job
        from .results import result_for_job

        self.validate_task(task)
        self._check_importable(task)
        job = enqueue_job(
            task.module_path,
            args,
            kwargs,
            queue=task.queue_name,
            priority=int(task.priority),
            run_at=self._aware(task.run_after),
            **self._job_options(task),
        )
        result = result_for_job(job, task=task, backend=self.alias)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        """Return the result of the job (live or dead-lettered) whose id is ``result_id``.

        Two indexed look-ups at most. Raises ``TaskResultDoesNotExist`` for an id that names no
        job, or a job whose task is not a ``django.tasks`` task.
        """
        from ..models import DeadJob, Job
        from .results import load_task, result_for_dead_job, result_for_job, task_for_row

        job_id = _job_id(result_id)
        row: Job | DeadJob | None = Job.objects.filter(id=job_id).first() if job_id else None
        if row is None and job_id:
            row = DeadJob.objects.filter(job_id=job_id).first()
        if row is None:
            raise TaskResultDoesNotExist(f"No job or dead job has id {result_id!r}.")
        task = load_task(row.task_path)
        if task is None:
            raise TaskResultDoesNotExist(
                f"Job {result_id} runs {row.task_path}, which is not a django.tasks task."
            )
        task = task_for_row(task, row, backend=self.alias)
        if isinstance(row, DeadJob):
            return result_for_dead_job(row, task=task, backend=self.alias)
        return result_for_job(row, task=task, backend=self.alias)

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """Return system check errors: django_jobs not installed, or queues it would refuse."""
        errors: list[checks.CheckMessage] = []
        if not apps.is_installed("django_jobs"):
            errors.append(
                checks.Error(
                    f"TASKS[{self.alias!r}] uses JobsBackend but django_jobs is not installed.",
                    hint="Add 'django_jobs' to INSTALLED_APPS.",
                    id="django_jobs.E201",
                )
            )
            return errors
        from ..conf import jobs_settings

        allowed = jobs_settings.QUEUES
        refused = sorted(self.queues - set(allowed)) if allowed is not None else []
        if refused:
            errors.append(
                checks.Error(
                    f"TASKS[{self.alias!r}]['QUEUES'] has {refused}, which DJANGO_JOBS['QUEUES'] "
                    "does not allow, so their tasks could not be enqueued.",
                    hint="Add them to DJANGO_JOBS['QUEUES'], or remove them from TASKS.",
                    id="django_jobs.E202",
                )
            )
        return errors

    def _job_options(self, task: Task) -> dict[str, Any]:
        # Per task (JobsTask fields) over this backend's OPTIONS; None is left to DJANGO_JOBS.
        options = {}
        for name, default in self.job_options.items():
            value = getattr(task, name, None)
            options[name] = default if value is None else value
        return options

    @staticmethod
    def _aware(run_after: datetime | None) -> datetime | None:
        # Django allows a naive run_after when USE_TZ is off; jobs store aware datetimes.
        if run_after is not None and timezone.is_naive(run_after) and not settings.USE_TZ:
            return timezone.make_aware(run_after)
        return run_after

    @staticmethod
    def _check_importable(task: Task) -> None:
        # The worker imports the task by its module path: that must give back this Task (not,
        # say, the bare function under the same name), or its context and signals would be lost.
        try:
            found = registry.load(task.module_path)
        except UnknownTaskError:
            found = None
        if getattr(found, "func", None) is not task.func:
            raise InvalidTask(
                f"{task.module_path} does not import back to this task, so a worker could not "
                "run it. Define it with @task at the top level of its module, under its own name."
            )


def _job_id(result_id: Any) -> int | None:
    # Result ids are job ids as strings; anything else names no job.
    text = str(result_id)
    if not text.isdecimal() or not text.isascii():
        return None
    job_id = int(text)
    return job_id if 0 < job_id <= MAX_JOB_ID else None
