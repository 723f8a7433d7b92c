"""Pause and resume queues: ``pause_queue``, ``resume_queue``, ``paused_queues``.

A paused queue keeps taking jobs (``enqueue`` is unchanged) but no worker claims them: the claim
statement itself leaves out every queue with a ``PausedQueue`` row (``JobQuerySet.unpaused``), so
a pause holds on every worker from the first claim that begins after it commits, with no cache
and no message to miss. Jobs claimed before that (running, or prefetched into a worker's buffer)
are not taken back: they run and finish as usual. ``resume_queue`` deletes the row and, on
PostgreSQL, sends the same ``NOTIFY`` an enqueue does, so idle workers claim at once instead of
at their next poll. The idea of pausing a queue without stopping its producers is Oban's
``pause_queue``/``resume_queue`` and River's ``QueuePause``/``QueueResume``; here the pause lives
in the database, not in each worker.
"""

from __future__ import annotations

import logging

from django.db import connections, router, transaction

from .conf import jobs_settings
from .exceptions import InvalidJobOptionsError
from .models import Job, PausedQueue
from .validation.options import check_queue, check_queue_name
from .worker.listen import CHANNEL

logger = logging.getLogger(__name__)

#: The longest ``by`` a pause records (``PausedQueue.paused_by``), as a Django username.
BY_MAX_LENGTH = 150


def pause_queue(queue: str, *, by: str = "") -> bool:
    """Pause ``queue``: workers claim none of its jobs until ``resume_queue(queue)``.

    ``queue`` is a queue name (a non-empty str of at most 64 characters, in
    ``DJANGO_JOBS["QUEUES"]`` when that is set); ``by`` who pauses it (at most 150 characters,
    e.g. a username), stored in ``PausedQueue.paused_by``. Returns True if the queue was
    paused now, False if it was paused already (then its ``paused_at`` and ``paused_by`` are
    kept). Safe to repeat and to race: two callers at once write one row.

    Takes effect when the caller's transaction commits (at once in autocommit): every claim that
    begins after that skips the queue. A claim statement already under way may still take a
    batch; jobs claimed before the pause, running or prefetched, run to completion. Enqueueing
    goes on as usual, and the jobs wait, queued.

    Raises ``InvalidJobOptionsError`` (a ``ValueError``) for a bad ``queue`` or ``by``, before
    any SQL.
    """
    check_queue(queue, jobs_settings.QUEUES)
    if not isinstance(by, str) or len(by) > BY_MAX_LENGTH:
        raise InvalidJobOptionsError(
            f"by must be a string of at most {BY_MAX_LENGTH} characters, got {by!r:.80}."
        )
    alias = _alias()
    _, created = PausedQueue.objects.using(alias).get_or_create(
        queue=queue, defaults={"paused_by": by}
    )
    if created:
        logger.info("Queue %s paused%s", queue, f" by {by}" if by else "", extra={"queue": queue})
    return created


def resume_queue(queue: str) -> bool:
    """Resume ``queue``: workers claim its ready jobs again; return whether it was paused.

    ``queue`` is a queue name (a non-empty str of at most 64 characters); unlike
    ``pause_queue`` it may be outside ``DJANGO_JOBS["QUEUES"]``, so that a queue paused before
    it left that list can still be resumed. Deletes the queue's ``PausedQueue`` row and, on
    PostgreSQL, in the same transaction, sends ``NOTIFY django_jobs, '<queue>'`` (the channel
    and payload an enqueue's trigger uses), so idle workers that take the queue wake when it
    commits; elsewhere they find the jobs at their next poll. Resuming a queue that is not
    paused changes nothing, sends nothing and returns False.

    Raises ``InvalidJobOptionsError`` for a bad ``queue``, before any SQL.
    """
    check_queue_name(queue)
    alias = _alias()
    connection = connections[alias]
    # The delete and the NOTIFY commit together: a worker woken by the NOTIFY sees the row gone.
    with transaction.atomic(using=alias):
        deleted, _ = PausedQueue.objects.using(alias).filter(queue=queue).delete()
        if deleted and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, queue])
    if deleted:
        logger.info("Queue %s resumed", queue, extra={"queue": queue})
    return bool(deleted)


def paused_queues() -> list[PausedQueue]:
    """Return the paused queues' rows (``queue``, ``paused_at``, ``paused_by``), by name.

    One read of the small paused table, outside any transaction of its own.
    """
    return list(PausedQueue.objects.using(_alias()).order_by("queue"))


def _alias() -> str:
    # The paused table lives beside the job table: the claim reads both in one statement.
    return str(router.db_for_write(Job))
