"""Will the planned workers fit in the server's connections?

What one ``runworker`` process holds is ``worker_connections()``, counted from the worker's
threads (``worker/runner.py``, ``worker/slots.py``): each slot thread keeps its own connection
for the worker's life, and so do the main thread (claims, timeouts, releases), the completer, the
heartbeat and the listener; ``--with-scheduler`` adds the scheduler's thread. A ``--processes``
supervisor holds none. The plan comes from ``context.plan`` (``jobs doctor --hosts --processes
--concurrency ...``); the server's limit is ``max_connections`` less the connections reserved for
superusers (and, from PostgreSQL 16, for ``pg_use_reserved_connections``).
"""

from __future__ import annotations

from .context import Context, Plan
from .findings import Finding, ok, problem, warning

NAME = "connections"
TITLE = "Connection budget"
POSTGRES_ONLY = True

#: The threads of a worker process that hold a connection besides its job slots.
WORKER_THREADS = ("main", "completer", "heartbeat", "listener")


def worker_connections(concurrency: int, *, with_scheduler: bool = False) -> int:
    """Return the connections one ``runworker --concurrency N`` process keeps open.

    >>> worker_connections(10), worker_connections(2, with_scheduler=True)
    (14, 7)
    """
    return concurrency + len(WORKER_THREADS) + (1 if with_scheduler else 0)


def planned(plan: Plan) -> int:
    """Return the connections ``plan`` needs: every worker process, scheduler and the rest.

    >>> planned(Plan(hosts=3, processes=2, concurrency=10, schedulers=1, other_connections=20))
    105
    """
    per_process = worker_connections(plan.concurrency, with_scheduler=plan.with_scheduler)
    return plan.hosts * plan.processes * per_process + plan.schedulers + plan.other_connections


def _server(context: Context) -> tuple[int, int, int]:
    """Return (max_connections, reserved, client connections open now)."""
    maximum = context.max_connections or int(context.setting("max_connections") or 0)
    reserved = sum(
        int(context.setting(name) or 0)
        for name in ("superuser_reserved_connections", "reserved_connections")
    )
    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        in_use = int(cursor.fetchone()[0])
    return maximum, reserved, in_use


def check(context: Context) -> list[Finding]:
    """Problem: the plan needs more than the server allows. Warning: more than is free now."""
    plan = context.plan
    needed = planned(plan)
    maximum, reserved, in_use = _server(context)
    limit = maximum - reserved
    per_process = worker_connections(plan.concurrency, with_scheduler=plan.with_scheduler)
    detail = (
        f"{plan.hosts} hosts x {plan.processes} processes x {per_process} "
        f"(concurrency {plan.concurrency} + {len(WORKER_THREADS)}"
        f"{' + 1 scheduler thread' if plan.with_scheduler else ''}) + {plan.schedulers} "
        f"schedulers + {plan.other_connections} other = {needed}; the server allows {limit} "
        f"(max_connections {maximum} - {reserved} reserved), {in_use} in use now."
    )
    action = (
        "Lower --concurrency or the number of processes, raise max_connections (a restart of "
        "PostgreSQL), or put the web servers behind a pooler; the deploying-workers how-to "
        "explains the count."
    )
    if needed > limit:
        return [
            problem(NAME, f"Plan needs {needed} connections, server allows {limit}", detail, action)
        ]
    if needed > limit - in_use:
        return [
            warning(
                NAME,
                f"Plan needs {needed} connections, {limit - in_use} free now",
                detail + " Workers already running are part of the connections in use.",
                "If these workers are not running yet, starting them would run out of "
                "connections: " + action,
            )
        ]
    return [ok(NAME, TITLE, detail)]
