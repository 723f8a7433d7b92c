"""Logging for django-jobs' long-running commands, unless the project configured its own."""

from __future__ import annotations

import logging
import sys


def configure_command_logging(verbosity: int) -> None:
    """Send ``django_jobs`` records to stderr when neither it nor the root logger has a handler.

    ``verbosity`` is the command's ``-v``: 0 logs warnings and errors, 1 also one line per job,
    2 and up DEBUG. A project's own LOGGING setting is left alone.
    """
    logger = logging.getLogger("django_jobs")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    levels = {0: logging.WARNING, 1: logging.INFO}
    logger.setLevel(levels.get(verbosity, logging.DEBUG))
