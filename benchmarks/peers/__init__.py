"""One adapter per tool measured by ``benchmarks/compare.py`` (``base.Adapter``'s interface)."""

from __future__ import annotations

from .base import Adapter
from .jobs import DjangoJobs
from .pgqueuer_peer import PgQueuerAdapter
from .procrastinate_peer import ProcrastinateAdapter
from .tasks_db import TasksDb


def adapters() -> list[Adapter]:
    """Every tool, django-jobs first (the one the ratios are about)."""
    return [DjangoJobs(), PgQueuerAdapter(), ProcrastinateAdapter(), TasksDb()]


__all__ = [
    "Adapter",
    "DjangoJobs",
    "PgQueuerAdapter",
    "ProcrastinateAdapter",
    "TasksDb",
    "adapters",
]
