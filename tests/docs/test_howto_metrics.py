"""The metrics how-to's examples: the tracing receivers, the scrape and alert configs, the URLs.

Its files are in tests/docs/metrics/. Tracing runs a real worker (in this process, its job
threads on their own connections) with the OpenTelemetry SDK's in-memory exporter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from django_jobs import job
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker

from .metrics import jobs, tracing

PAGE = "howto/operating/metrics.md"
EXAMPLES = Path(__file__).resolve().parent / "metrics"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
EXPORTER = InMemorySpanExporter()
SEEN: dict[str, object] = {}


@job
@tracing.traced
def look(order_id):
    SEEN.update(span=trace.get_current_span().get_span_context().span_id, order_id=order_id)


@pytest.fixture(scope="module", autouse=True)
def tracer_provider():
    # The global provider can be set once per process; the example's tracer follows it.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    yield provider


@pytest.fixture
def spans():
    EXPORTER.clear()
    tracing.install()
    yield EXPORTER
    tracing.uninstall()
    EXPORTER.clear()


def run_jobs() -> None:
    assert Worker(burst=True, concurrency=2).run() == 0


def by_name(spans, prefix):
    return [span for span in spans.get_finished_spans() if span.name.startswith(prefix)]


@pytest.mark.django_db(transaction=True)
def test_the_worker_span_is_a_child_of_the_enqueue_span(spans):
    job = tracing.enqueue_traced(jobs.send_receipt, 42)
    run_jobs()
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.DONE, "receipt 42 sent")
    (enqueued,) = by_name(spans, "enqueue ")
    (ran,) = by_name(spans, "run ")
    assert enqueued.name == "enqueue tests.docs.metrics.jobs.send_receipt"
    assert enqueued.kind is SpanKind.PRODUCER and ran.kind is SpanKind.CONSUMER
    assert ran.parent is not None
    assert ran.parent.span_id == enqueued.context.span_id
    assert ran.context.trace_id == enqueued.context.trace_id
    assert enqueued.attributes["django_jobs.job_id"] == job.id
    assert ran.attributes["django_jobs.job_id"] == job.id
    assert ran.status.status_code is StatusCode.OK


@pytest.mark.django_db(transaction=True)
def test_each_failed_attempt_is_an_error_span_of_the_same_trace(spans):
    job = tracing.enqueue_traced(jobs.send_receipt, 7, fail=True)
    run_jobs()
    assert DeadJob.objects.filter(job_id=job.id).exists()
    (enqueued,) = by_name(spans, "enqueue ")
    attempts = sorted(
        by_name(spans, "run "), key=lambda span: span.attributes["django_jobs.attempt"]
    )
    assert [span.attributes["django_jobs.attempt"] for span in attempts] == [1, 2]
    assert [span.attributes["django_jobs.will_retry"] for span in attempts] == [True, False]
    for span in attempts:
        assert span.parent.span_id == enqueued.context.span_id
        assert span.status.status_code is StatusCode.ERROR
        assert span.events[0].name == "exception"


@pytest.mark.django_db(transaction=True)
def test_the_task_code_runs_inside_its_jobs_span_and_never_sees_the_context(spans):
    tracing.enqueue_traced(look, 1)
    run_jobs()
    (ran,) = by_name(spans, "run ")
    assert {"span": ran.context.span_id, "order_id": 1} == SEEN


@pytest.mark.django_db(transaction=True)
def test_jobs_enqueued_without_a_trace_start_a_trace_of_their_own(spans):
    jobs.send_receipt.enqueue(3)
    run_jobs()
    (ran,) = by_name(spans, "run ")
    assert ran.parent is None
    assert Job.objects.get().status == JobStatus.DONE
