"""One adapter per tool measured by ``benchmarks/compare.py`` (``base.Adapter``'s interface)."""

from __future__ import annotations

from .base import Adapter
from .bullmq_peer import BullMQAdapter
from .jobs import DjangoJobs
from .pgboss_peer import PgBossAdapter
from .pgqueuer_peer import PgQueuerAdapter
from .procrastinate_peer import ProcrastinateAdapter
from .tasks_db import TasksDb


def adapters() -> list[Adapter]:
    """Every tool, django-jobs first (the one the ratios are about)."""
    return [
        DjangoJobs(),
        PgQueuerAdapter(),
        ProcrastinateAdapter(),
        TasksDb(),
        PgBossAdapter(),
        BullMQAdapter(),
    ]


__all__ = [
    "Adapter",
    "BullMQAdapter",
    "DjangoJobs",
    "PgBossAdapter",
    "PgQueuerAdapter",
    "ProcrastinateAdapter",
    "TasksDb",
    "adapters",
]
