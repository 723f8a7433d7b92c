"""Does a NOTIFY on the workers' channel reach a LISTEN-ing connection, and is the trigger that
sends it on enqueue in place?

Two connections of their own, apart from Django's (as the worker's listener has): one LISTENs on
``context.listen_channel``, the other sends ``pg_notify('django_jobs', <random payload>)``; the
check waits up to ``context.notify_timeout_seconds`` for it. The payload names no queue, so
workers that listen to some queues ignore it; workers of every queue wake once and find nothing.
"""

from __future__ import annotations

import time
import uuid

from psycopg import sql

from .context import Context, worker_channel
from .findings import Finding, ok, problem

NAME = "notify"
TITLE = "LISTEN/NOTIFY"
POSTGRES_ONLY = True
#: The trigger migration 0003_notify_trigger installs on the job table.
TRIGGER = "django_jobs_job_notify_insert"

WITHOUT = (
    "Workers still find new jobs by polling, up to POLL_INTERVAL_SECONDS late instead of at once."
)


def trigger_state(context: Context) -> str | None:
    """Return the trigger's ``pg_trigger.tgenabled`` ('O' enabled, 'D' disabled...), or None
    when it does not exist."""
    from ..models import Job

    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
            [Job._meta.db_table, TRIGGER],
        )
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def round_trip(context: Context) -> float | None:
    """Send a notification on the workers' channel; return the seconds it took to arrive on a
    connection LISTENing on ``context.listen_channel``, or None if it did not in time."""
    payload = f"doctor-{uuid.uuid4().hex}"
    listener = context.connect()
    try:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(context.listen_channel)))
        notifier = context.connect()
        try:
            started = time.monotonic()
            notifier.execute("SELECT pg_notify(%s, %s)", [worker_channel(), payload])
        finally:
            notifier.close()
        deadline = started + context.notify_timeout_seconds
        while (left := deadline - time.monotonic()) > 0:
            for notify in listener.notifies(timeout=left, stop_after=1):
                if notify.payload == payload:
                    return time.monotonic() - started
        return None
    finally:
        listener.close()


def check(context: Context) -> list[Finding]:
    """Problem: the trigger is missing or disabled, or the notification did not arrive."""
    findings = []
    state = trigger_state(context)
    if state is None or state == "D":
        findings.append(
            problem(
                NAME,
                f"Trigger {TRIGGER} {'missing' if state is None else 'disabled'}",
                f"Enqueueing a job sends no notification. {WITHOUT}",
                f"If disabled: ALTER TABLE django_jobs_job ENABLE TRIGGER {TRIGGER}; if missing, "
                "run the CREATE statements of django_jobs/migrations/0003_notify_trigger.py "
                "(the function, then the trigger) in psql.",
            )
        )
    seconds = round_trip(context)
    if seconds is None:
        findings.append(
            problem(
                NAME,
                "NOTIFY not delivered",
                f"A notification on channel {worker_channel()!r} did not reach a connection "
                f"listening on {context.listen_channel!r} within "
                f"{context.notify_timeout_seconds:g}s. {WITHOUT}",
                "Give workers a direct connection to PostgreSQL or a session-mode pool: a "
                "transaction-mode pooler (PgBouncer pool_mode=transaction) loses LISTEN (see the "
                "pooler finding).",
            )
        )
    if not findings and seconds is not None:
        findings.append(
            ok(NAME, TITLE, f"Trigger enabled; a notification arrived in {seconds * 1000:.0f} ms")
        )
    return findings
