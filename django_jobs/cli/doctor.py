"""Check the database and the planned deployment for what goes wrong in long-running use:
migrations, indexes, bloat, expired leases, LISTEN/NOTIFY, clock skew, the connection budget,
autovacuum and a transaction-mode pooler. Each finding says what to do. Exits 1 when any
finding is a problem, 0 otherwise (warnings included). Run it with the workers' settings,
after every deploy and in CI. --hosts, --processes, --concurrency, --with-scheduler,
--schedulers and --other-connections describe the deployment whose connections are counted
(defaults: one runworker with its own defaults).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import doctor
from ..doctor import Context, Finding, Level, Plan
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "doctor"
HELP = "Check the database and the deployment for problems; say what to do about each."

#: The table's columns (title and detail share one); --json has each field on its own.
COLUMNS = ["level", "check", "finding", "action"]
HEADERS = {"level": "", "action": "what to do"}


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value!r}")
        return number

    return parse


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    plan = parser.add_argument_group("the deployment whose connections are counted")
    plan.add_argument(
        "--hosts", type=_at_least(1), default=1, metavar="N", help="Worker machines (default 1)."
    )
    plan.add_argument(
        "--processes",
        metavar="N",
        type=_at_least(1),
        default=1,
        help="runworker processes per machine (runworker --processes; default 1).",
    )
    plan.add_argument(
        "--concurrency",
        metavar="N",
        type=_at_least(1),
        default=10,
        help="Threads per worker process (runworker --concurrency; default 10).",
    )
    plan.add_argument(
        "--with-scheduler",
        action="store_true",
        help="The workers run runworker --with-scheduler (one more connection each).",
    )
    plan.add_argument(
        "--schedulers",
        metavar="N",
        type=_at_least(0),
        default=0,
        help="Separate runscheduler processes (default 0).",
    )
    plan.add_argument(
        "--other-connections",
        type=_at_least(0),
        default=0,
        metavar="N",
        help="Connections of everything else: web servers, cron, admin sessions (default 0).",
    )
    plan.add_argument(
        "--max-connections",
        type=_at_least(1),
        metavar="N",
        help="Count against N instead of the server's max_connections (a planned change).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=doctor.names(),
        metavar="CHECK",
        help=f"Run only this check; repeat for several ({', '.join(doctor.names())}).",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=doctor.names(),
        metavar="CHECK",
        help="Leave this check out; repeat for several.",
    )
    parser.add_argument(
        "--notify-timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="How long to wait for the test notification (default 5).",
    )
    parser.add_argument(
        "--database", metavar="ALIAS", help="Database alias (default: the job tables' database)."
    )


def context_from(options: dict[str, Any]) -> Context:
    """Build the doctor's ``Context`` from the parsed command-line options."""
    plan = Plan(
        hosts=options["hosts"],
        processes=options["processes"],
        concurrency=options["concurrency"],
        with_scheduler=options["with_scheduler"],
        schedulers=options["schedulers"],
        other_connections=options["other_connections"],
    )
    return Context(
        alias=options.get("database"),
        plan=plan,
        max_connections=options.get("max_connections"),
        notify_timeout_seconds=options["notify_timeout"],
    )


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def report(findings: list[Finding], out: Output) -> int:
    """Print ``findings`` (a table, or ``{"findings": [...], "problems": n, "warnings": n}``
    with ``--json``); return ``EXIT_PROBLEM`` if any is a problem, else ``EXIT_OK``."""
    problems = sum(1 for f in findings if f.level is Level.PROBLEM)
    warnings = sum(1 for f in findings if f.level is Level.WARNING)
    if out.as_json:
        out.json(
            {
                "findings": [f.as_dict() for f in findings],
                "problems": problems,
                "warnings": warnings,
            }
        )
    else:
        rows = [{**f.as_dict(), "finding": f"{f.title}\n{f.detail}".strip()} for f in findings]
        out.table(rows, COLUMNS, title="django-jobs doctor", headers=HEADERS)
        style = "bold red" if problems else "yellow" if warnings else "green"
        out.line(f"{_count(problems, 'problem')}, {_count(warnings, 'warning')}", style=style)
    return EXIT_PROBLEM if problems else EXIT_OK


def run(options: dict[str, Any], out: Output) -> int:
    from django.db import connections

    alias = options.get("database")
    if alias is not None and alias not in connections:
        out.error(f"--database {alias!r}: not in DATABASES ({', '.join(connections)}).")
        return EXIT_USAGE
    findings = doctor.run_checks(
        context_from(options), only=options["only"] or (), skip=options["skip"] or ()
    )
    return report(findings, out)
