"""The metrics how-to's examples: the tracing receivers, the scrape and alert configs, the URLs.

Its files are in tests/docs/metrics/. Tracing runs a real worker (in this process, its job
threads on their own connections) with the OpenTelemetry SDK's in-memory exporter.
"""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from django.core.management import load_command_class
from django.test import RequestFactory, override_settings
from django.urls import resolve, reverse
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from django_jobs import job
from django_jobs.checks import check_settings
from django_jobs.metrics.views import queue_metrics
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from tests.metrics.test_reference import documented

from .metrics import jobs, tracing
from .pages import included_sources, page_blocks

PAGE = "howto/operating/metrics.md"
EXAMPLES = Path(__file__).resolve().parent / "metrics"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
EXPORTER = InMemorySpanExporter()
INSTALL = 'python -m pip install "django-durable-jobs[prometheus]"'
RUNWORKER = "python manage.py runworker --processes 4 --metrics-port 9100"
#: The page's shell blocks, run or checked here (see test_code_blocks.RUN_BY_TESTS).
COMMANDS = {INSTALL, RUNWORKER}
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


# The page's files and commands ------------------------------------------------------------------


def test_every_file_the_page_includes_is_an_example_here():
    assert {source.relative_to(EXAMPLES).as_posix() for source in included_sources(PAGE)} == {
        "urls.py", "settings_snippet.py", "permissions.py", "prometheus.yml", "alerts.yml",
        "tracing.py", "jobs.py",
    }  # fmt: skip


def test_the_pages_commands_are_the_ones_checked_here():
    shown = {block.body for block in page_blocks(PAGE) if block.info == "bash"}
    assert shown == COMMANDS


def test_the_install_names_this_distribution_and_its_prometheus_extra():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert shlex.split(INSTALL)[-1] == f"{project['name']}[prometheus]"
    assert any(
        requirement.startswith("prometheus-client")
        for requirement in project["optional-dependencies"]["prometheus"]
    )


def runworker_options(line: str) -> dict[str, object]:
    argv = shlex.split(line)
    command = load_command_class("django_jobs", "runworker")
    return vars(command.create_parser("manage.py", "runworker").parse_args(argv[3:]))


def test_the_scrape_config_scrapes_the_port_and_path_the_page_serves():
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    workers, queues = config["scrape_configs"]
    comment = next(
        line
        for line in (EXAMPLES / "prometheus.yml").read_text().splitlines()
        if "runworker" in line
    )
    shown = comment.split("runs: ", 1)[1]
    assert shown == RUNWORKER
    port = runworker_options(shown)["metrics_port"]
    assert all(target.endswith(f":{port}") for target in workers["static_configs"][0]["targets"])
    with override_settings(ROOT_URLCONF="tests.docs.metrics.urls"):
        assert queues["metrics_path"] == reverse("django_jobs:metrics")
        assert resolve(queues["metrics_path"]).func is queue_metrics
    assert queues["authorization"]["type"] == "Bearer"


def test_every_metric_the_alerts_use_is_one_the_code_exposes():
    rules = yaml.safe_load((EXAMPLES / "alerts.yml").read_text())["groups"][0]["rules"]
    used = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for rule in rules
        for name in re.findall(r"django_jobs_\w+", rule["expr"])
    }
    assert used and used <= set(documented())
    assert {rule["alert"] for rule in rules} >= {"JobsWaiting", "JobsDeadLettered", "JobsRescued"}
    assert all(rule["expr"].count("(") == rule["expr"].count(")") for rule in rules)


def test_the_settings_pass_the_checks_with_a_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_JOBS_METRICS_TOKEN", "a" * 43)
    snippet = importlib.reload(importlib.import_module("tests.docs.metrics.settings_snippet"))
    with override_settings(DJANGO_JOBS=snippet.DJANGO_JOBS):
        assert check_settings() == []


def test_the_hook_wants_the_monitoring_network_and_the_token():
    from .metrics.permissions import from_monitoring

    token = "t" * 32
    factory = RequestFactory()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with override_settings(DJANGO_JOBS={"METRICS_TOKEN": token}):
        assert from_monitoring(factory.get("/", REMOTE_ADDR="10.20.3.4", **bearer))
        assert not from_monitoring(factory.get("/", REMOTE_ADDR="192.0.2.1", **bearer))
        assert not from_monitoring(factory.get("/", REMOTE_ADDR="10.20.3.4"))
