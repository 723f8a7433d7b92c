"""System checks for ``DJANGO_JOBS["SCHEDULES"]``: ids django_jobs.E101 to E109.

They run on ``manage.py check`` and before ``runscheduler`` and ``runworker`` start, so a bad
cron expression, task path or time zone fails the deploy, not the first fire time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks

from ..conf import DEFAULTS, jobs_settings
from .schedules import problems


@checks.register()
def check_schedules(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Check every schedule entry; return one error per problem, naming the schedule."""
    raw = jobs_settings.user_settings.get("SCHEDULES", DEFAULTS["SCHEDULES"])
    return [
        checks.Error(problem.message, hint=problem.hint, id=f"django_jobs.{problem.id}")
        for problem in problems(raw)
    ]
