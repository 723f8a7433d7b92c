"""Build the ``django.tasks`` ``TaskContext`` a claimed job's task receives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import UnknownTaskError

if TYPE_CHECKING:
    from ..models import Job
    from .compat import TaskContext


def django_task_context(job: Job) -> TaskContext:
    """Return the ``TaskContext`` a ``takes_context`` django task receives for running ``job``.

    Its ``task_result`` is the job's RUNNING result, so ``context.attempt`` counts from 1 and
    ``context.task_result.id`` is the id ``enqueue()`` returned. Raises ``UnknownTaskError`` when
    ``job.task_path`` no longer names a ``django.tasks`` task.
    """
    from .compat import TaskContext
    from .results import load_task, result_for_job, task_for_row

    task = load_task(job.task_path)
    if task is None:
        raise UnknownTaskError(f"{job.task_path!r} is not a django.tasks task.")
    result = result_for_job(job, task=task_for_row(task, job), backend=task.backend)
    return TaskContext(task_result=result)
