"""Job, DeadJob, Workflow, ScheduleRun, PausedQueue and RateWindow: the tables django-jobs keeps.

A ``Job`` row is one persisted run of a task. It is ``queued`` until a worker claims it, ``running``
while a worker holds its lease, then ``done``; or it is ``cancelled``: before it ran, or by its task
stopping at a cancel request. A job that used
its last attempt (or raised ``PermanentError``) leaves this table: it becomes a ``DeadJob`` row that
keeps its original id in ``job_id``. Only the functions of ``django_jobs.engine`` change
``status``, the lease fields or ``DeadJob`` rows. A ``PausedQueue`` row keeps workers from claiming
its queue's jobs (``django_jobs.pause``). A ``Workflow`` row ties the jobs of a chain or a
group together (``django_jobs.workflows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


LIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobQuerySet(models.QuerySet["Job"]):
    """Names for the sets of jobs the worker and the admin ask for."""

    def ready(self, now: datetime | None = None) -> JobQuerySet:
        """Queued jobs whose ``run_at`` has come (``now`` defaults to the current UTC time)."""
        return self.filter(status=JobStatus.QUEUED, run_at__lte=now or timezone.now())

    def expired(self, now: datetime | None = None) -> JobQuerySet:
        """Running jobs whose lease ran out: their worker died, hung or lost the database."""
        return self.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now or timezone.now())

    def live(self) -> JobQuerySet:
        """Jobs that are queued or running."""
        return self.filter(status__in=LIVE_STATUSES)

    def in_queues(self, queues: Sequence[str] | None) -> JobQuerySet:
        """Jobs in any of ``queues``; ``None`` or empty means every queue."""
        return self.filter(queue__in=queues) if queues else self

    def unlimited(self, limited_queues: Sequence[str] = ()) -> JobQuerySet:
        """Jobs free of every limit: no ``concurrency_key`` and not in one of ``limited_queues``.

        The plain claim takes only these; the limited claim (``engine.claim_limited``) takes
        the others. Both terms are filters on the rows the ready indexes yield, so the plain
        claim still walks its index.
        """
        plain = self.filter(concurrency_key__isnull=True)
        return plain.exclude(queue__in=limited_queues) if limited_queues else plain

    def unpaused(self) -> JobQuerySet:
        """Jobs whose queue has no ``PausedQueue`` row.

        Compiles to ``NOT (queue IN (SELECT queue FROM django_jobs_pausedqueue))`` inside the
        caller's statement: PostgreSQL reads the (tiny) paused table once per statement into a
        hash and filters each candidate against it, so a claim built on this sees a pause that
        committed before the claim began, on every worker, with no cache to invalidate.
        """
        return self.exclude(queue__in=PausedQueue.objects.values("queue"))


class Job(models.Model):
    """One persisted run of a task: its call, its options, its state and its outcome.

    Times are aware UTC datetimes. ``attempts`` counts claims so far, the current one included.
    ``errors`` lists one dict per failed attempt: ``attempt``, ``exception_class``, ``message``,
    ``traceback`` and ``failed_at`` (ISO 8601).
    """

    id = models.BigAutoField(primary_key=True)
    task_path = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=64, default="default")
    priority = models.SmallIntegerField(default=0, help_text="-100..100, higher runs first.")
    run_at = models.DateTimeField(default=timezone.now, help_text="Not claimed before this time.")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=20)
    # Times the task snoozed (django_jobs.Snooze); bounded by DJANGO_JOBS["MAX_SNOOZES"].
    # A default in the database too: rows written by other SQL (imports, tools) stay valid.
    snoozes = models.PositiveIntegerField(default=0, db_default=0)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Per-job backoff (the django.tasks backend's OPTIONS); None takes DJANGO_JOBS' BACKOFF_*.
    backoff_base_seconds = models.FloatField(null=True, blank=True)
    backoff_max_seconds = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # A debounced job's key (Task.using(debounce_seconds=...)): held by queued jobs only, so a
    # new call while the job runs is a new job rather than lost.
    debounce_key = models.CharField(max_length=255, null=True, blank=True)
    # At most concurrency_limit jobs of one concurrency_key run at once (engine/limits.py).
    concurrency_key = models.CharField(max_length=255, null=True, blank=True)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=128, blank=True, default="")
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)
    progress_percent = models.FloatField(null=True, blank=True)
    progress_message = models.CharField(max_length=255, blank=True, default="")
    # Membership of a chain or group (django_jobs.workflows); NULL for a plain job. No foreign
    # key constraint and no index over plain jobs: neither costs a plain INSERT or UPDATE anything.
    workflow = models.ForeignKey(
        "Workflow",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="jobs",
    )
    workflow_position = models.PositiveIntegerField(null=True, blank=True)
    # When cancel was asked for: a queued job is cancelled at once; a running one is asked to
    # stop and ends cancelled when its task stops (django_jobs.cancellation).
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The claim query walks this index in its ORDER BY and sees only queued rows, so it
            # stays an index scan however many done rows pile up beside them. Jobs under a
            # concurrency key are left to the limited claim's index (kready): a backlog of them
            # ahead of plain jobs would otherwise be read, and skipped, by every plain claim.
            models.Index(
                fields=["-priority", "run_at", "id"],
                condition=Q(status="queued", concurrency_key__isnull=True),
                name="django_jobs_job_ready_idx",
            ),
            # The same for a worker that takes one queue (runworker --queue): it walks only its
            # queue's ready rows, however many are ready in other queues.
            models.Index(
                fields=["queue", "-priority", "run_at", "id"],
                condition=Q(status="queued", concurrency_key__isnull=True),
                name="django_jobs_job_qready_idx",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="running"),
                name="django_jobs_job_lease_idx",
            ),
            # The limited claim's: the ready jobs of one concurrency key, in claim order ...
            models.Index(
                fields=["concurrency_key", "-priority", "run_at", "id"],
                condition=Q(status="queued", concurrency_key__isnull=False),
                name="django_jobs_job_kready_idx",
            ),
            # ... and the running ones it counts against the key's limit.
            models.Index(
                fields=["concurrency_key"],
                condition=Q(status="running", concurrency_key__isnull=False),
                name="django_jobs_job_krunning_idx",
            ),
            models.Index(fields=["queue", "status"], name="django_jobs_job_queue_idx"),
            # Pruning and the "recent" counts compare finished_at (a comparison implies NOT
            # NULL, so they use this index); an unfinished job has no entry, which spares
            # every enqueue (and claim) an index insert.
            models.Index(
                fields=["finished_at"],
                condition=Q(finished_at__isnull=False),
                name="django_jobs_job_finished_idx",
            ),
            # unique_for's look-up of a done job holding the key within its window; jobs without
            # a key (most) are not in it.
            models.Index(
                fields=["idempotency_key", "finished_at"],
                condition=Q(status="done", idempotency_key__isnull=False),
                name="django_jobs_job_done_key_idx",
            ),
            # A workflow's members (fan-in reads their results): plain jobs are not in it.
            models.Index(
                fields=["workflow", "workflow_position"],
                condition=Q(workflow__isnull=False),
                name="django_jobs_job_workflow_idx",
            ),
            # The debounce's look-up of the queued job holding its key. Not unique: a job that
            # started and comes back to the queue (a retry, a snooze) may meet a newer call's
            # job there, and its write must not fail for it; enqueuers serialise on an advisory
            # lock instead (engine.debounce).
            models.Index(
                fields=["debounce_key"],
                condition=Q(status="queued", debounce_key__isnull=False),
                name="django_jobs_job_debounce_idx",
            ),
        ]
        constraints = [
            # One live job per key: a concurrent second enqueue waits on this index, then finds the
            # first job instead of inserting beside it. Jobs without a key (most) have no entry:
            # NULLs never conflict, so leaving them out changes nothing but what an enqueue
            # costs (one index insert fewer).
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(status__in=["queued", "running"], idempotency_key__isnull=False),
                name="django_jobs_job_live_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=-100, priority__lte=100),
                name="django_jobs_job_priority_range",
            ),
            # A key always comes with its limit, so the claim never has to guess one.
            models.CheckConstraint(
                condition=Q(concurrency_key__isnull=True, concurrency_limit__isnull=True)
                | Q(concurrency_key__isnull=False, concurrency_limit__gte=1),
                name="django_jobs_job_concurrency_pair",
            ),
        ]
        permissions = [
            ("cancel_job", "Can cancel jobs"),
            ("run_now_job", "Can make queued jobs run now"),
            ("update_queued_job", "Can change run_at, priority and queue of queued jobs"),
        ]

    def __str__(self) -> str:
        return f"Job {self.id} {self.task_path} ({self.status})"

    @property
    def last_error(self) -> dict[str, Any] | None:
        """The newest entry of ``errors``, or ``None`` when no attempt has failed."""
        return self.errors[-1] if self.errors else None


class DeadJob(models.Model):
    """A job that used its attempts or raised ``PermanentError``: its call, its failure, its fate.

    ``job_id`` is the id the row had as a ``Job``; ``replayed_job_id`` the id of the new ``Job`` a
    replay created. The call fields are enough to replay it.
    """

    id = models.BigAutoField(primary_key=True)
    job_id = models.BigIntegerField(unique=True)
    task_path = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=64)
    priority = models.SmallIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    backoff_base_seconds = models.FloatField(null=True, blank=True)
    backoff_max_seconds = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    concurrency_key = models.CharField(max_length=255, null=True, blank=True)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField()
    exception_class = models.CharField(max_length=255)
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True)
    worker_id = models.CharField(max_length=128, blank=True, default="")
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(default=timezone.now)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.CharField(max_length=150, blank=True, default="")
    replayed_job_id = models.BigIntegerField(null=True, blank=True)
    # The job's workflow membership, kept so that a replay resumes the workflow.
    workflow_id = models.BigIntegerField(null=True, blank=True)
    workflow_position = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-failed_at"]
        indexes = [
            models.Index(fields=["queue", "failed_at"], name="django_jobs_dead_queue_idx"),
            models.Index(
                fields=["workflow_id"],
                condition=Q(workflow_id__isnull=False),
                name="django_jobs_dead_workflow_idx",
            ),
        ]
        permissions = [("replay_deadjob", "Can replay dead jobs")]

    def __str__(self) -> str:
        return f"Dead job {self.job_id} {self.task_path}: {self.exception_class}"


class ScheduleRun(models.Model):
    """The scheduler's ledger: one row per (schedule, fire time), whatever became of its job.

    The unique constraint is what makes a fire time enqueue once however many schedulers run.
    """

    id = models.BigAutoField(primary_key=True)
    schedule = models.CharField(max_length=200)
    fire_at = models.DateTimeField()
    job_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-fire_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "fire_at"], name="django_jobs_schedulerun_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.fire_at.isoformat()}"


class Leader(models.Model):
    """Who holds the leadership of a role (e.g. ``"pruner"``) and until when.

    One row per role, written only by ``django_jobs.leadership``: a worker holds the role while
    ``expires_at`` (the database's clock) is in the future and renews it before then; anyone may
    take it once it has passed. Not job state: losing this table loses nothing but a lease.
    """

    name = models.CharField(max_length=64, primary_key=True)
    worker_id = models.CharField(max_length=128)
    elected_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.worker_id} until {self.expires_at.isoformat()}"


class MinuteRollup(models.Model):
    """What workers saw of one queue in one minute: the admin dashboard's charts read these.

    ``minute`` is the UTC minute (seconds and microseconds zero) in which jobs finished or
    started. ``done`` counts jobs that finished well, ``failed`` failed attempts (retried or
    dead-lettered); ``duration_seconds_sum`` adds up those jobs' run times. ``pickup_buckets``
    is a histogram of pickup latency (``started_at`` minus the later of ``enqueued_at`` and
    ``run_at``) for jobs started in the minute: ``django_jobs.latency.SIZE`` counts on the
    fixed bounds ``django_jobs.latency.BOUNDS``. Every worker adds its own counts to the row
    (``django_jobs.rollups.add``), so one row sums all workers. Rows older than
    ``django_jobs.rollups.KEEP`` are deleted by ``django_jobs.rollups.prune_rollups``.
    """

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=64)
    minute = models.DateTimeField()
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    duration_seconds_sum = models.FloatField(default=0.0)
    pickup_buckets = models.JSONField(default=list)

    class Meta:
        ordering = ["queue", "minute"]
        constraints = [
            # The upsert's conflict target: one row per queue and minute, whatever wrote it.
            models.UniqueConstraint(fields=["queue", "minute"], name="django_jobs_rollup_minute")
        ]
        # Pruning reads by minute across queues.
        indexes = [models.Index(fields=["minute"], name="django_jobs_rollup_minute_idx")]

    def __str__(self) -> str:
        return f"{self.queue} @ {self.minute.isoformat()}: {self.done} done, {self.failed} failed"


class PausedQueue(models.Model):
    """A paused queue: while its row exists, no worker claims the queue's jobs.

    One row per paused queue, written by ``django_jobs.pause_queue`` and deleted by
    ``resume_queue``; the claim excludes these queues in its own statement
    (``JobQuerySet.unpaused``). Enqueueing into a paused queue goes on as usual. ``paused_at``
    is an aware UTC datetime; ``paused_by`` who paused it (a username, or "" when not given).
    """

    queue = models.CharField(max_length=64, primary_key=True)
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["queue"]
        # Rows change only through pause_queue and resume_queue, behind this one permission.
        default_permissions = ()
        permissions = [("pause_queue", "Can pause and resume queues")]

    def __str__(self) -> str:
        by = f" by {self.paused_by}" if self.paused_by else ""
        return f"Queue {self.queue} paused at {self.paused_at.isoformat()}{by}"


class WorkflowKind(models.TextChoices):
    CHAIN = "chain", "Chain"
    GROUP = "group", "Group"


class Workflow(models.Model):
    """A chain or a group of jobs: how many there are, how many have not succeeded yet.

    A chain's steps have ``workflow_position`` 0..total-1 and run one at a time: the
    transaction that marks step n done inserts step n+1. A group's members have positions
    0..m-1 and run in parallel; its callback (if any) has position m and is inserted by the
    transaction that marks the last member done. ``total`` counts every job of the workflow
    (callback included), ``pending`` those that have not succeeded yet: each success takes one
    off in the transaction that marks the job done, so the workflow is finished exactly when
    ``pending`` is 0 (``finished_at`` set). ``calls`` holds the jobs not enqueued yet (a
    chain's later steps, a group's callback): dicts of ``task_path``, ``args``, ``kwargs`` and
    ``options`` (``Job`` field values). Written only by ``django_jobs.engine``.
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=WorkflowKind.choices)
    total = models.PositiveIntegerField()
    pending = models.PositiveIntegerField()
    calls = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"], name="django_jobs_wf_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(pending__lte=models.F("total")),
                name="django_jobs_workflow_pending_le_total",
            )
        ]

    def __str__(self) -> str:
        return f"Workflow {self.id} ({self.kind}, {self.total - self.pending}/{self.total} done)"

    @property
    def members(self) -> int:
        """The jobs that run before the fan-in: all of a chain's, a group's but its callback."""
        return self.total - len(self.calls) if self.kind == WorkflowKind.GROUP else self.total


class RateWindow(models.Model):
    """The recent starts of a rate-limited queue: the sliding window its claims are counted in.

    One row per queue with a ``rate_limit`` in ``DJANGO_JOBS["QUEUES"]``, written only by
    ``engine.claim_limited`` while it holds the queue's claim lock. ``recent_started_at`` lists
    the ``started_at`` (ISO 8601, the database's clock, oldest first) of the queue's latest
    starts, at most as many as the limit allows per period: a claim may start ``count - (starts
    within the last period)`` jobs, and the oldest of them tells when the next one may. Not job
    state: losing a row only forgets the window.
    """

    queue = models.CharField(max_length=64, primary_key=True)
    recent_started_at = models.JSONField(default=list)

    class Meta:
        ordering = ["queue"]

    def __str__(self) -> str:
        return f"Queue {self.queue}: {len(self.recent_started_at)} recent starts"
