"""``manage.py runworker``: parse options, build a ``Worker``, wire signals, run it."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_jobs.conf import jobs_settings
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.management.logging import configure_command_logging
from django_jobs.management.preflight import require_migrated
from django_jobs.metrics import MetricsUnavailableError
from django_jobs.metrics.serve import SupervisorMetrics, child_observer, serve_worker
from django_jobs.scheduler.runner import Scheduler
from django_jobs.validation import check_worker_id
from django_jobs.worker import Worker
from django_jobs.worker.observers import Observer
from django_jobs.worker.supervisor import Supervisor


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
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
        parser.add_argument(
            "--prefetch",
            type=non_negative_int,
            help="Jobs claimed ahead of free threads and held in memory until one is free "
            "(default 0: a claim takes as many jobs as there are free threads, and starts them).",
        )
        parser.add_argument(
            "--max-memory",
            type=positive_float,
            metavar="MB",
            help="Drain and exit with status 3 once resident memory passes MB (for leaky code; "
            "run under --processes or a supervisor that restarts it).",
        )
        parser.add_argument(
            "--processes",
            type=positive_int,
            default=1,
            help="Run this many worker processes, restarted when they exit (CPU-bound jobs).",
        )
        parser.add_argument("--worker-id", help="Name this worker (default: host-pid-random).")
        parser.add_argument(
            "--with-scheduler",
            action="store_true",
            help="Also run the scheduler (as runscheduler does) in a thread of this process.",
        )
        parser.add_argument(
            "--metrics-port",
            type=non_negative_int,
            metavar="PORT",
            help="Serve this worker's Prometheus metrics on http://ADDRESS:PORT/metrics (0: a "
            "free port, logged); with --processes, the children's sums. Needs prometheus-client.",
        )
        parser.add_argument(
            "--metrics-address",
            default="0.0.0.0",
            metavar="ADDRESS",
            help="The address --metrics-port listens on (default 0.0.0.0: every interface).",
        )
        # A --processes child of a supervisor serving metrics: count, serve nothing.
        parser.add_argument("--metrics-child", action="store_true", help=argparse.SUPPRESS)

    def execute(self, *args: Any, **options: Any) -> Any:
        # Until the worker's own handlers are in place, a stop signal only records the request:
        # during start-up (system checks import URLconfs) it would otherwise kill the process
        # mid-import instead of letting it exit cleanly.
        signal.signal(signal.SIGTERM, _note_early_stop)
        signal.signal(signal.SIGINT, _note_early_stop)
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        configure_command_logging(options["verbosity"])
        if options["worker_id"] is not None:
            try:
                check_worker_id(options["worker_id"])
            except InvalidJobOptionsError as exc:
                raise CommandError(f"--worker-id: {exc}") from exc
        require_migrated()
        allowed = jobs_settings.QUEUES
        unknown = sorted(set(options["queues"] or []) - set(allowed or options["queues"] or []))
        if unknown:
            raise CommandError(
                f"--queue {', '.join(unknown)}: not in DJANGO_JOBS['QUEUES'] {sorted(allowed)}; "
                "no job could ever be enqueued there."
            )
        if options["processes"] > 1:
            sys.exit(supervise(options))
        observers = metrics_observers(options)
        try:
            worker = Worker(
                queues=options["queues"],
                concurrency=options["concurrency"],
                burst=options["burst"],
                max_jobs=options["max_jobs"],
                max_memory_mb=options["max_memory"],
                prefetch=options["prefetch"],
                worker_id=options["worker_id"],
                observers=observers,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        scheduler = Scheduler() if options["with_scheduler"] else None
        if scheduler is not None:
            scheduler.start_in_thread()
        install_signal_handlers(worker, scheduler)
        if _early_stop:
            worker.request_stop("signal received while starting")
        # Start-up leaves a few hundred thousand long-lived objects (modules, the ORM's
        # metadata); the cyclic collector would traverse them again at every older-generation
        # pass while the worker allocates per job (about 5% of a no-op drain's CPU). Freeze
        # them out of its view, after collecting what start-up left unreachable. This process
        # is the worker's own: task objects are collected as before.
        gc.collect()
        gc.freeze()
        code = worker.run()
        if scheduler is not None:
            scheduler.stop_and_join(timeout_seconds=10)
        if code:
            logging.shutdown()
            # Abandoned job threads cannot be joined; their rows were released already.
            os._exit(code)


def supervise(options: dict[str, Any]) -> int:
    """Run ``--processes`` children (serving their metrics when asked); return the exit code."""
    metrics = None
    if options["metrics_port"] is not None:
        metrics = SupervisorMetrics(options["metrics_port"], options["metrics_address"])
        try:
            metrics.start()
        except (MetricsUnavailableError, OSError) as exc:
            metrics.close()
            raise CommandError(str(exc)) from exc
    supervisor = Supervisor(
        child_arguments(options),
        processes=options["processes"],
        burst=options["burst"],
        on_exit=metrics.child_exited if metrics is not None else None,
    )
    try:
        return supervisor.run()
    finally:
        if metrics is not None:
            metrics.close()


def metrics_observers(options: dict[str, Any]) -> list[Observer]:
    """Return the worker's metrics observer when metrics are on (serving them), else none."""
    try:
        if options["metrics_child"]:
            return [child_observer()]
        if options["metrics_port"] is not None:
            return [serve_worker(options["metrics_port"], options["metrics_address"])]
    except (MetricsUnavailableError, OSError, RuntimeError) as exc:
        raise CommandError(str(exc)) from exc
    return []


def child_arguments(options: dict[str, Any]) -> list[str]:
    """Return the ``runworker`` arguments each ``--processes`` child gets: the same, less that."""
    args = [f"--concurrency={options['concurrency']}", f"-v{options['verbosity']}"]
    args += [f"--queue={queue}" for queue in options["queues"] or []]
    for flag, key in (("--max-jobs", "max_jobs"), ("--prefetch", "prefetch"),
                      ("--max-memory", "max_memory")):  # fmt: skip
        if options[key] is not None:
            args.append(f"{flag}={options[key]}")
    args += ["--burst"] if options["burst"] else []
    args += ["--with-scheduler"] if options["with_scheduler"] else []
    args += ["--metrics-child"] if options["metrics_port"] is not None else []
    return args


_early_stop: list[int] = []


def _note_early_stop(signum: int, frame: FrameType | None) -> None:
    _early_stop.append(signum)


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
