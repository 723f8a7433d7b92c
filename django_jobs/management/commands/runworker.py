"""``manage.py runworker``: parse options, build a ``Worker``, wire signals, run it."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_jobs.scheduler.runner import Scheduler
from django_jobs.worker import Worker


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Run a django-jobs worker: claim ready jobs and run them until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="NAME",
            help="Take jobs from this queue; repeat for several. Default: every queue.",
        )
        parser.add_argument(
            "--concurrency",
            type=positive_int,
            default=10,
            help="Jobs run at once, each in a thread (default 10).",
        )
        parser.add_argument(
            "--burst", action="store_true", help="Exit 0 once no job is ready to run."
        )
        parser.add_argument(
            "--max-jobs", type=positive_int, help="Exit after starting this many jobs."
        )
        parser.add_argument("--worker-id", help="Name this worker (default: host-pid-random).")
        parser.add_argument(
            "--with-scheduler",
            action="store_true",
            help="Also run the scheduler (as runscheduler does) in a thread of this process.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._configure_logging(options["verbosity"])
        try:
            worker = Worker(
                queues=options["queues"],
                concurrency=options["concurrency"],
                burst=options["burst"],
                max_jobs=options["max_jobs"],
                worker_id=options["worker_id"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        scheduler = Scheduler() if options["with_scheduler"] else None
        if scheduler is not None:
            scheduler.start_in_thread()
        install_signal_handlers(worker, scheduler)
        code = worker.run()
        if scheduler is not None:
            scheduler.stop_and_join(timeout_seconds=10)
        if code:
            logging.shutdown()
            # Abandoned job threads cannot be joined; their rows were released already.
            os._exit(code)

    def _configure_logging(self, verbosity: int) -> None:
        logger = logging.getLogger("django_jobs")
        if logger.handlers or logging.getLogger().handlers:
            return  # the project configured logging; respect it
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


def install_signal_handlers(worker: Worker, scheduler: Scheduler | None = None) -> None:
    """SIGTERM/SIGINT stop claiming and scheduling, then drain; a second one exits at once (1).

    Jobs cut off by the second signal keep their lease until it expires; then any worker's rescue
    puts them back in the queue.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        if worker.stopping:
            logging.getLogger("django_jobs.worker").warning(
                "Second %s: exiting now", signal.Signals(signum).name
            )
            logging.shutdown()
            os._exit(1)
        worker.request_stop()
        if scheduler is not None:
            scheduler.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
