"""Recurring jobs: cron schedules from ``DJANGO_JOBS["SCHEDULES"]``, one job per fire time.

``schedules`` parses and checks entries and computes fire times, ``ledger`` records a fire time
and enqueues its job once, ``runner`` holds the ``Scheduler`` loop, ``checks`` the system checks
and ``django_jobs.admin.schedules`` the page that shows them. Importing this package touches no
models.
"""
