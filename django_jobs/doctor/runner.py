"""``CHECKS`` and ``run_checks``: run the doctor's checks in order and collect their findings."""

from __future__ import annotations

import logging
from collections.abc import Collection
from types import ModuleType

from . import (
    autovacuum,
    bloat,
    clock,
    connections,
    database,
    indexes,
    leases,
    migrated,
    notify,
    pooler,
)
from .context import Context
from .findings import Finding, Level, problem

logger = logging.getLogger(__name__)

#: The checks, in the order they run and are printed. Each module has ``NAME``, ``TITLE``,
#: ``POSTGRES_ONLY`` and ``check(context) -> list[Finding]``.
CHECKS: list[ModuleType] = [
    database,
    migrated,
    indexes,
    bloat,
    leases,
    notify,
    clock,
    connections,
    autovacuum,
    pooler,
]


def names() -> list[str]:
    """Return the checks' names, in order."""
    return [module.NAME for module in CHECKS]


def run_check(module: ModuleType, context: Context) -> list[Finding]:
    """Run one check; a check that raises gives a problem finding instead of stopping the rest."""
    if module.POSTGRES_ONLY and not context.postgresql:
        vendor = context.wrapper().display_name
        return [
            Finding(module.NAME, Level.SKIPPED, module.TITLE, f"PostgreSQL only; this is {vendor}")
        ]
    try:
        findings: list[Finding] = module.check(context)
    except Exception as exc:
        logger.debug("Doctor check %s failed", module.NAME, exc_info=exc)
        findings = [
            problem(
                module.NAME,
                f"{module.TITLE}: the check failed",
                f"{type(exc).__name__}: {exc}".strip(),
                "Fix the error shown (database permissions? a lost connection?) and run the "
                "doctor again.",
            )
        ]
    finally:
        _reset(context)
    return findings


def _reset(context: Context) -> None:
    # A check that failed mid-query must not leave the next one an aborted connection.
    wrapper = context.wrapper()
    if wrapper.connection is not None and not wrapper.in_atomic_block and not wrapper.is_usable():
        wrapper.close()


def run_checks(
    context: Context | None = None,
    *,
    only: Collection[str] = (),
    skip: Collection[str] = (),
) -> list[Finding]:
    """Run the ``CHECKS`` named in ``only`` (all when empty) less those in ``skip``; return
    their findings in order. When the database cannot be reached, only that is reported."""
    context = context or Context()
    findings: list[Finding] = []
    for module in CHECKS:
        if (only and module.NAME not in only) or module.NAME in skip:
            continue
        found = run_check(module, context)
        findings += found
        if module is database and any(f.level is Level.PROBLEM for f in found):
            break
    return findings
