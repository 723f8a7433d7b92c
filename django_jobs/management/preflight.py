"""Checks the long-running commands make before they start, with the fix in the message."""

from __future__ import annotations

from django.core.management.base import CommandError

from .. import db


def require_migrated() -> None:
    """Raise ``CommandError`` saying to run ``migrate`` when django_jobs' tables are missing.

    An unreachable database is not an error here: the command starts and waits for it, as it
    does for any outage.
    """
    from ..models import DeadJob, Job, Leader, ScheduleRun

    try:
        missing = db.missing_tables([Job, DeadJob, ScheduleRun, Leader])
    except db.TRANSIENT_ERRORS:
        return
    finally:
        db.close_quietly()
    if missing:
        raise CommandError(
            f"The django_jobs tables {missing} do not exist in the database: run "
            "`python manage.py migrate` first, then start this command again."
        )
