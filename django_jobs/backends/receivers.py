"""Send ``django.tasks``' ``task_started`` and ``task_finished`` for jobs that run django tasks.

Connected by ``DjangoJobsConfig.ready()``, so a worker sends them from its first job on. The
worker's own signals drive them: ``job_started`` gives ``task_started`` (RUNNING);
``job_succeeded`` (SUCCESSFUL), ``job_dead_lettered`` (FAILED, after the last attempt) and
``job_cancelled`` (FAILED: Django's API has no cancelled status) give ``task_finished``. A
failed attempt that will be retried finishes nothing: the result is READY again. ``sender`` is
the backend class and ``task_result`` the result, as Django documents.

Importing this module needs no ``django.tasks``: jobs of plain functions and ``@job`` tasks
return early, before anything of it is imported.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from .. import registry
from ..exceptions import UnknownTaskError
from ..models import DeadJob, Job
from ..signals import job_cancelled, job_dead_lettered, job_started, job_succeeded
from .kind import is_django_task

logger = logging.getLogger(__name__)


@receiver(job_started, sender=Job, dispatch_uid="django_jobs.backends.task_started")
def send_task_started(sender: Any, job: Job, **kwargs: Any) -> None:
    """Send ``task_started`` for ``job`` if it runs a django task."""
    _send("task_started", job)


@receiver(job_succeeded, sender=Job, dispatch_uid="django_jobs.backends.task_finished")
def send_task_finished(sender: Any, job: Job, **kwargs: Any) -> None:
    """Send ``task_finished`` (SUCCESSFUL) for ``job`` if it runs a django task."""
    _send("task_finished", job)


@receiver(job_dead_lettered, sender=Job, dispatch_uid="django_jobs.backends.task_failed")
def send_task_failed(sender: Any, job: Job, dead_job: DeadJob, **kwargs: Any) -> None:
    """Send ``task_finished`` (FAILED) for ``job``, now ``dead_job``, if it runs a django task."""
    _send("task_finished", job, dead_job)


@receiver(job_cancelled, sender=Job, dispatch_uid="django_jobs.backends.task_cancelled")
def send_task_cancelled(sender: Any, job: Job, **kwargs: Any) -> None:
    """Send ``task_finished`` (FAILED, no new error) for cancelled ``job`` if it runs a django
    task."""
    _send("task_finished", job)


def _send(signal_name: str, job: Job, dead_job: DeadJob | None = None) -> None:
    found = _django_task(job.task_path)
    if found is None:
        return
    extra = {"job_id": job.id, "worker_id": job.worker_id}
    # A receiver's error must not take the worker's loop down with it, nor change the outcome
    # already recorded: log it, as the executor does for task code.
    try:
        from . import compat
        from .results import result_for_dead_job, result_for_job, task_for_row
        from .tasks import JobsBackend

        backend = found.get_backend()
        sender = type(backend) if isinstance(backend, JobsBackend) else JobsBackend
        task = task_for_row(found, dead_job or job)
        if dead_job is not None:
            result = result_for_dead_job(dead_job, task=task, backend=task.backend)
        else:
            result = result_for_job(job, task=task, backend=task.backend)
        signal = getattr(compat, signal_name)
        if dead_job is None:
            signal.send(sender=sender, task_result=result)
        else:
            _send_failed(signal, sender, result, dead_job)
    except Exception:
        logger.exception("Job %s: a %s receiver failed", job.id, signal_name, extra=extra)


class RecordedTraceback(Exception):
    """The traceback a failed attempt recorded, as text: the cause of ``TaskFailedError``."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]).rstrip()


class TaskFailedError(Exception):
    """A dead-lettered django task's last failure, raised while ``task_finished`` is sent."""


def _send_failed(signal: Any, sender: Any, result: Any, dead_job: DeadJob) -> None:
    # Django's own task_finished receiver logs sys.exc_info(): Django sends the signal inside
    # its exception handler (django/tasks/signals.py). Ours comes later, from the stored dead job,
    # so the failure is raised again here, with the recorded traceback as its cause.
    failure = TaskFailedError(f"{dead_job.exception_class}: {dead_job.message}")
    try:
        raise failure from RecordedTraceback(dead_job.traceback)
    except TaskFailedError:
        signal.send(sender=sender, task_result=result)


#: Task path -> its django task, or None for a task of another kind (paths that name no task
#: are not kept: the task may be registered later).
_KINDS: dict[str, Any] = {}


def _django_task(path: str) -> Any:
    """Return the ``django.tasks`` task at ``path``, or None for anything else.

    Remembered per path once the path names a task: the worker asks for every job it starts and
    finishes, and a path names the same registered task for the life of the process.
    """
    if path in _KINDS:
        return _KINDS[path]
    try:
        found = registry.load(path)
    except UnknownTaskError:
        return None
    _KINDS[path] = task = found if is_django_task(found) else None
    return task
