"""``manage.py runscheduler``: build a ``Scheduler`` from the settings, wire signals, run it."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_jobs.management.logging import configure_command_logging
from django_jobs.management.preflight import require_migrated
from django_jobs.scheduler.runner import Scheduler


class Command(BaseCommand):
    help = (
        "Enqueue the jobs of DJANGO_JOBS['SCHEDULES'] at their fire times until stopped. Any "
        "number may run at once: each fire time gets exactly one job."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scheduler-id", help="Name this scheduler in logs (default: host-pid)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        configure_command_logging(options["verbosity"])
        require_migrated()
        # The system checks (run before handle) have already refused bad schedules.
        scheduler = Scheduler(scheduler_id=options["scheduler_id"])
        install_signal_handlers(scheduler)
        scheduler.run()


def install_signal_handlers(scheduler: Scheduler) -> None:
    """SIGTERM/SIGINT end the scheduler after its current pass, which is short."""

    def handle(signum: int, frame: FrameType | None) -> None:
        scheduler.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
