"""Running jobs whose lease expired: a worker died (or lost the database) and no rescue ran.

Every worker's heartbeat rescues expired jobs every ``HEARTBEAT_SECONDS``, holding off for one
``LEASE_SECONDS`` after a database outage. So a lease expired for longer than
``LEASE_SECONDS + 2 * HEARTBEAT_SECONDS`` means no worker is rescuing: none is running, or
none can reach the database. "Now" is the database's clock, so host clock skew plays no part.
"""

from __future__ import annotations

from datetime import timedelta

from .. import db
from ..conf import jobs_settings
from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "leases"
TITLE = "Expired leases"
POSTGRES_ONLY = False


def grace_seconds() -> float:
    """Seconds a lease may stay expired before a running worker has surely rescued it."""
    return float(jobs_settings.LEASE_SECONDS) + 2 * float(jobs_settings.HEARTBEAT_SECONDS)


def check(context: Context) -> list[Finding]:
    """Problem: leases expired for longer than ``grace_seconds()``; warning: expired recently."""
    from ..models import Job, JobStatus

    now = db.database_now(context.wrapper().alias)
    expired = Job.objects.using(context.wrapper().alias).expired(now)
    count = expired.count()
    if not count:
        return [ok(NAME, TITLE, "No running job has an expired lease")]
    grace = grace_seconds()
    stale = expired.filter(lease_expires_at__lt=now - timedelta(seconds=grace))
    stale_count = stale.count()
    live = Job.objects.using(context.wrapper().alias).filter(
        status=JobStatus.RUNNING, lease_expires_at__gte=now
    )
    workers = sorted(stale.order_by().values_list("worker_id", flat=True).distinct()[:5])
    running = live.count()
    if stale_count:
        return [
            problem(
                NAME,
                f"{stale_count} running jobs expired more than {grace:.0f}s ago",
                f"{count} expired leases in all, last held by {', '.join(workers) or 'unknown'}; "
                f"{running} other running jobs have live leases"
                + (" (so some worker is heartbeating)." if running else "."),
                "No worker is rescuing them: start a worker (`manage.py runworker`), or, if "
                "workers are running, check their logs for database errors. Any running "
                "worker requeues them within HEARTBEAT_SECONDS.",
            )
        ]
    return [
        warning(
            NAME,
            f"{count} running jobs have just expired leases",
            f"Expired less than {grace:.0f}s ago: their worker died or stalled; a running "
            "worker's heartbeat rescues them shortly.",
            "Run the doctor again in a minute; if they are still there, no worker is running.",
        )
    ]
