"""Use the recurring-jobs how-to's example as its page says, and exit 1 if it misbehaves.

Run as ``python check.py`` in a copy of this project (tests/docs/test_howto_recurring.py does): the
settings' schedules pass the system checks and a bad cron expression fails them (the E104 line is
printed, for the test to compare with the page); each schedule's job runs from the ledger, the
report learns its fire time from it, and ``prune_schedule_ledger`` keeps each schedule's newest row.
"""

import datetime as dt
import os
import sys


def expect(condition, message):
    if not condition:
        sys.exit(message)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings
    from django.utils import timezone

    from django_jobs.models import Job, ScheduleRun
    from django_jobs.scheduler import ledger
    from django_jobs.scheduler.schedules import load_schedules

    from app.maintenance import prune_schedule_ledger

    call_command("migrate", verbosity=0)
    call_command("check", verbosity=0)  # raises SystemCheckError if the schedules are refused
    bad = {**settings.DJANGO_JOBS["SCHEDULES"]}
    bad["nightly-cleanup"] = {**bad["nightly-cleanup"], "cron": "0 25 * * *"}
    try:
        with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "SCHEDULES": bad}):
            call_command("check", verbosity=0)
    except SystemCheckError as error:
        print(next(line for line in str(error).splitlines() if "django_jobs.E104" in line))
    else:
        sys.exit("a bad cron expression passed the checks")

    schedules = load_schedules()
    cleanup = Job.objects.get(id=ledger.fire_now(schedules["nightly-cleanup"]).job_id)
    expect((cleanup.kwargs, cleanup.max_attempts) == ({"days": 30}, 3), "cleanup's call")
    digest = Job.objects.get(id=ledger.fire_now(schedules["weekly-digest"]).job_id)
    expect(digest.queue == "mail", f"the digest is on queue {digest.queue!r}")
    ledger.fire_now(schedules["stats-refresh"])
    daily = load_schedules({"daily-report": {"task": "app.reports.daily_report", "cron": "@daily"}})
    fire_at = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    report = ledger.fire(daily["daily-report"], fire_at)
    call_command("runworker", "--burst", verbosity=0)
    states = dict(Job.objects.values_list("task_path", "status"))
    expect(set(states.values()) == {"done"}, f"the scheduled jobs ended {states}")
    result = Job.objects.get(id=report.job_id).result
    expect(result == {"day": f"{fire_at:%Y-%m-%d}"}, f"the report read {result}")

    now = timezone.now()
    old = [
        ScheduleRun.objects.create(schedule=name, fire_at=now - dt.timedelta(days=days))
        for name, days in [("nightly-cleanup", 200), ("nightly-cleanup", 100), ("gone", 100)]
    ]
    prune_schedule_ledger()
    kept = set(ScheduleRun.objects.filter(pk__in=[run.pk for run in old]))
    expect(kept == {old[1]}, f"pruning kept {kept}, not nightly-cleanup's newest row")
    expect(ScheduleRun.objects.filter(pk=report.pk).exists(), "pruning took a recent row")


if __name__ == "__main__":
    main()
