"""Trace jobs with OpenTelemetry: one span per attempt, a child of the span that enqueued it.

django-jobs' signals are the extension point: this module uses job_enqueued, job_started,
job_succeeded and job_failed. A job has no headers field, so the trace context travels in the
job's kwargs, under TRACE_KWARG, put there by enqueue_traced() and taken out again by @traced.
"""

# [tracing]
import functools
import threading

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from django_jobs.signals import job_enqueued, job_failed, job_started, job_succeeded

TRACE_KWARG = "trace_context"
tracer = trace.get_tracer("myproject.jobs")
_spans = {}  # job id -> the span of its running attempt
_running = threading.local()  # the span of the job this worker thread runs


def enqueue_traced(task, *args, **kwargs):
    """Enqueue ``task`` in a span of its own, its context carried in the job's kwargs."""
    with tracer.start_as_current_span(f"enqueue {task.path}", kind=SpanKind.PRODUCER):
        carrier = {}
        propagate.inject(carrier)  # {"traceparent": "00-<trace id>-<span id>-01"}
        return task.enqueue(*args, **kwargs, **{TRACE_KWARG: carrier})


def traced(func):
    """Let a task take the trace context, and run its code inside its job's span."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        kwargs.pop(TRACE_KWARG, None)
        span = getattr(_running, "span", None)
        if span is None:
            return func(*args, **kwargs)
        token = context.attach(trace.set_span_in_context(span))
        try:
            return func(*args, **kwargs)
        finally:
            context.detach(token)
            _running.span = None

    return run


def on_enqueued(sender, job, **kwargs):
    # Inside enqueue_traced's span, in the enqueuer's transaction.
    trace.get_current_span().set_attribute("django_jobs.job_id", job.id)


def on_started(sender, job, **kwargs):
    # In the worker thread that is about to run the job.
    parent = propagate.extract(job.kwargs.get(TRACE_KWARG) or {})
    span = tracer.start_span(
        f"run {job.task_path}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"django_jobs.job_id": job.id, "django_jobs.queue": job.queue,
                    "django_jobs.attempt": job.attempts},
    )  # fmt: skip
    _spans[job.id] = _running.span = span


def on_succeeded(sender, job, **kwargs):
    # Possibly in another thread (successes are written in batches): find the span by job id.
    span = _spans.pop(job.id, None)
    if span is not None:
        span.set_status(Status(StatusCode.OK))
        span.end()


def on_failed(sender, job, error, will_retry, **kwargs):
    span = _spans.pop(job.id, None)
    if span is not None:
        span.record_exception(error)
        span.set_attribute("django_jobs.will_retry", will_retry)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()


RECEIVERS = {
    job_enqueued: on_enqueued,
    job_started: on_started,
    job_succeeded: on_succeeded,
    job_failed: on_failed,
}


def install():
    """Connect the receivers: call it from your AppConfig.ready()."""
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=f"tracing.{receiver.__name__}")


def uninstall():
    for signal, receiver in RECEIVERS.items():
        signal.disconnect(dispatch_uid=f"tracing.{receiver.__name__}")


# [tracing]
