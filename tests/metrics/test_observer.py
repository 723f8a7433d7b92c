"""``MetricsObserver`` in process: what each observer call counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_jobs.metrics import observer as observer_module
from django_jobs.metrics.observer import OTHER_TASK, MetricsObserver
from django_jobs.models import Job


def sample(obs, name, **labels):
    return obs.registry.get_sample_value(name, labels) or 0.0


def job(**fields):
    now = timezone.now()
    values = {"task_path": "app.jobs.send", "queue": "mail", "enqueued_at": now, "run_at": now,
              "started_at": now}  # fmt: skip
    return Job(**{**values, **fields})


def test_pickup_latency_runs_from_the_later_of_enqueued_at_and_run_at():
    obs = MetricsObserver()
    now = timezone.now()
    obs.started(job(enqueued_at=now - dt.timedelta(seconds=100),
                    run_at=now - dt.timedelta(seconds=7), started_at=now))  # fmt: skip
    assert sample(obs, "django_jobs_job_pickup_latency_seconds_sum", queue="mail") == 7.0
    assert sample(obs, "django_jobs_job_pickup_latency_seconds_bucket", queue="mail", le="5.0") == 0
    assert (
        sample(obs, "django_jobs_job_pickup_latency_seconds_bucket", queue="mail", le="10.0") == 1
    )


def test_each_outcome_is_counted_and_only_attempts_that_ran_are_timed():
    obs = MetricsObserver()
    for outcome in ("done", "retry", "dead", "cancelled", "lost"):
        obs.finished(job(), outcome, 2.0)
    for outcome in ("done", "retry", "dead", "cancelled", "lost"):
        assert sample(obs, "django_jobs_jobs_finished_total", queue="mail",
                      task="app.jobs.send", outcome=outcome) == 1  # fmt: skip
    assert sample(obs, "django_jobs_job_duration_seconds_count", queue="mail",
                  task="app.jobs.send") == 3  # fmt: skip


def test_claims_rescues_and_database_errors_are_counted():
    obs = MetricsObserver()
    obs.claimed(0)
    obs.claimed(4)
    obs.rescued(2)
    obs.database_error()
    assert sample(obs, "django_jobs_claims_total") == 2
    assert sample(obs, "django_jobs_claimed_jobs_total") == 4
    assert sample(obs, "django_jobs_rescues_total") == 2
    assert sample(obs, "django_jobs_database_errors_total") == 1


def test_task_labels_are_capped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(observer_module, "MAX_TASK_LABELS", 2)
    obs = MetricsObserver()
    for path in ("a.one", "a.two", "a.three", "a.one"):
        obs.finished(job(task_path=path), "done", 0.1)
    finished = {
        s.labels["task"]: s.value
        for m in obs.registry.collect()
        if m.name == "django_jobs_jobs_finished"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert finished == {"a.one": 2, "a.two": 1, OTHER_TASK: 1}
