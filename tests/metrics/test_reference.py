"""docs/reference/metrics.md lists every metric the code registers, with its type and labels."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from django_jobs.metrics.collector import QueueCollector
from django_jobs.metrics.observer import MetricsObserver
from django_jobs.models import Job
from tests import tasks
from tests.docs.pages import DOCS

ROW = re.compile(r"^\| `(django_jobs_\w+)` \| (\w+) \|([^|]*)\|", re.M)


def documented() -> dict[str, tuple[str, frozenset[str]]]:
    text = (DOCS / "reference" / "metrics.md").read_text()
    return {
        name: (kind, frozenset(re.findall(r"`(\w+)`", labels)))
        for name, kind, labels in ROW.findall(text)
    }


def exposed(families) -> dict[str, tuple[str, frozenset[str]]]:
    found = {}
    for family in families:
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {key for sample in family.samples for key in sample.labels} - {"le"}
        found[name] = (family.type, frozenset(labels))
    return found


@pytest.mark.django_db
def test_the_reference_lists_every_metric_with_its_type_and_labels():
    observer = MetricsObserver()
    now = timezone.now()
    job = Job(task_path="a.b", queue="q", enqueued_at=now, run_at=now, started_at=now)
    observer.claimed(1)
    observer.started(job)
    observer.finished(job, "done", 1.0)
    observer.rescued(1)
    observer.database_error()
    tasks.add.enqueue(1, 2)  # a queue, so that the queue gauges have samples
    metrics = exposed(observer.registry.collect()) | exposed(QueueCollector().collect())
    assert documented() == metrics
