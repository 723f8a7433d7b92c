"""Only tasks run: a row that names anything else is refused by the worker, never called."""

from __future__ import annotations

from pathlib import Path

import pytest

import django_jobs
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)


def row(task_path: str, *args, **kwargs) -> Job:
    """Insert a job as SQL would, past every check of enqueue()."""
    return Job.objects.create(task_path=task_path, args=list(args), kwargs=kwargs, max_attempts=1)


@pytest.mark.parametrize(
    ("task_path", "args", "kwargs"),
    [
        ("os.system", ["touch {path}"], {}),
        ("subprocess.getoutput", ["touch {path}"], {}),
        ("builtins.exec", ["open({path!r}, 'w').close()"], {}),
        ("django.core.management.call_command", ["shell"], {"command": "open({path!r}, 'w')"}),
    ],
)
def test_a_row_naming_a_callable_that_is_no_task_is_dead_lettered_uncalled(
    tmp_path: Path, task_path, args, kwargs
):
    path = str(tmp_path / "pwned")
    job = row(
        task_path,
        *[a.format(path=path) for a in args],
        **{k: v.format(path=path) for k, v in kwargs.items()},
    )
    assert Worker(burst=True).run() == 0
    assert not Path(path).exists()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.exception_class == "django_jobs.exceptions.UnknownTaskError"
    assert "not a registered task" in dead.message and "TASK_MODULES" in dead.message


def test_a_plain_function_of_a_task_module_runs():
    job = django_jobs.enqueue("tests.plain_tasks.plain_add", 2, 3)
    assert Worker(burst=True).run() == 0
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.DONE, 5)


def test_a_plain_function_outside_task_modules_is_refused_by_the_worker():
    job = row("tests.tasks.undecorated_add", 2, 3)
    assert Worker(burst=True).run() == 0
    dead = DeadJob.objects.get(job_id=job.id)
    assert "names a plain function of tests.tasks" in dead.message
