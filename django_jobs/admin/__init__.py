"""The admin of django-jobs: jobs, dead jobs, the queue dashboard and the schedules' ledger.

Importing this package (Django's admin autodiscovery does) registers ``Job``, ``DeadJob`` and
``ScheduleRun`` with the default admin site. One concern per module, each importing only the
ones listed before it, so there is no import circle:

- ``display``: pure formatting helpers (durations, ``<pre>`` blocks, failed attempts).
- ``paginator``: the job list's paginator, which takes PostgreSQL's estimate on huge tables.
- ``filters``: the sidebar filters that list queues, tasks and schedules without a table scan.
- ``previews``: big columns shown in part, cut by the database (the first 64 KiB and a note).
- ``inputs``: ``SafeInputsAdmin``: malformed ids in a URL are a 404, NUL characters are ignored.
- ``base``: ``ReadOnlyAdmin``, what the job and dead-job admins share (read-only, id search).
- ``outcomes``: what an action that came second is told (what became of the job, who replayed).
- ``dashboard``: the queue dashboard page; its numbers come from ``django_jobs.dashboard``.
- ``charts``: the dashboard's chart data, from the per-minute rollups (``django_jobs.rollups``).
- ``jobs``, ``deadjobs``, ``schedules``: one ``ModelAdmin`` each, with its actions and pages.

Rows change only through the named functions of ``django_jobs.engine``, offered as admin
actions (POSTs under the admin's CSRF protection), each behind its own permission:
``django_jobs.cancel_job``, ``django_jobs.run_now_job``, ``django_jobs.update_queued_job`` and
``django_jobs.replay_deadjob``. Looking
needs the models' view permissions. The change forms are read-only.
"""

from . import deadjobs, jobs, schedules

__all__ = ["deadjobs", "jobs", "schedules"]
