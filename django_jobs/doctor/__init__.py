"""``manage.py jobs doctor``'s checks: one module each, run in the order of ``CHECKS``.

Each check looks at one thing that goes wrong in a long-running deployment (migrations,
indexes, bloat, expired leases, LISTEN/NOTIFY, clock skew, the connection budget, autovacuum, a
transaction-mode pooler) and returns ``Finding`` values that say what was found and what to do.
Checks only read; the LISTEN/NOTIFY one sends one notification. The command is
``django_jobs/cli/doctor.py``; the operator's page is docs/howto/operating/doctor.md.
"""

from __future__ import annotations

from .context import Context, Plan
from .findings import Finding, Level
from .runner import CHECKS, names, run_checks

__all__ = ["CHECKS", "Context", "Finding", "Level", "Plan", "names", "run_checks"]
