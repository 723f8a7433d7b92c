"""Instant pickup: an idle worker wakes on NOTIFY at commit, not at its next poll."""

import threading

import pytest
from django.db import transaction
from django.test import override_settings

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from django_jobs.worker.listen import Listener
from tests import tasks
from tests.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_listener_wakes_on_commit_only_for_its_queues():
    woken = threading.Event()
    listener = Listener(woken.set, queues=["mail"])
    listener.start()
    try:
        wait_for(listener.listening.is_set, what="LISTEN")
        with transaction.atomic():
            tasks.add.enqueue(1, 2)  # queue "default": not ours
        tasks.send_mail_task.using(delay=3600).enqueue("x")  # not ready: no wake-up
        with pytest.raises(RuntimeError), transaction.atomic():
            tasks.send_mail_task.enqueue("rolled back")
            raise RuntimeError
        assert not woken.wait(0.5)
        with transaction.atomic():
            tasks.send_mail_task.enqueue("a@example.com")
            assert not woken.is_set(), "NOTIFY must wait for the commit"
        assert woken.wait(5)
    finally:
        listener.stop()


@override_settings(DJANGO_JOBS={"POLL_INTERVAL_SECONDS": 60})
def test_idle_worker_picks_up_a_new_job_without_polling():
    worker = Worker(concurrency=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(lambda: worker.listener and worker.listener.listening.is_set(), what="LISTEN")
        job = tasks.add.enqueue(1, 1)
        # The worker polls every 60 s: done within 10 s means the notification woke it.
        wait_for(lambda: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(), timeout=10)
    finally:
        worker.request_stop()
        thread.join(30)


def test_stop_ends_the_listening_thread_at_once_not_at_its_wait_timeout():
    # A worker's shutdown stops its listener: it must not wait out the listener's wait on the
    # connection (1 s by default, a minute here), and notifications still arrive until then.
    woken = threading.Event()
    listener = Listener(woken.set, timeout_seconds=60)
    listener.start()
    try:
        wait_for(listener.listening.is_set, what="LISTEN")
        tasks.add.enqueue(1, 2)
        assert woken.wait(10), "a notification while waiting on the connection"
    finally:
        stopper = threading.Thread(target=listener.stop)
        stopper.start()
    wait_for(lambda: not stopper.is_alive(), timeout=30, what="stop() to return")
    assert listener._thread is not None and not listener._thread.is_alive()
