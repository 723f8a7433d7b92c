"""Skew between this host's clock and the database's.

Leases and ``run_at`` are computed from the clock of the host that writes them and compared by
other hosts and by the database: a worker whose clock runs ahead sets leases that expire early
for everyone else, and its jobs are rescued while they run. So skew must stay well below the
lease. The host clock is ``context.clock`` (``time.time``), read before and after
``SELECT clock_timestamp()``; the smallest of a few round trips is kept, and the skew is only
counted beyond half that round trip (what the measurement cannot tell apart).
"""

from __future__ import annotations

from ..conf import jobs_settings
from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "clock"
TITLE = "Clock skew"
POSTGRES_ONLY = True

#: A warning past this skew (seconds); a problem past a quarter of LEASE_SECONDS.
WARNING_SECONDS = 1.0
TRIES = 3


def measure(context: Context) -> tuple[float, float]:
    """Return (database clock minus host clock, uncertainty), in seconds."""
    best: tuple[float, float] | None = None
    with context.wrapper().cursor() as cursor:
        for _ in range(TRIES):
            before = context.clock()
            cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
            database = float(cursor.fetchone()[0])
            after = context.clock()
            found = (database - (before + after) / 2, (after - before) / 2)
            if best is None or found[1] < best[1]:
                best = found
    assert best is not None
    return best


def check(context: Context) -> list[Finding]:
    """Warning past ``WARNING_SECONDS`` of skew, problem past ``LEASE_SECONDS / 4``."""
    skew, uncertainty = measure(context)
    beyond = max(0.0, abs(skew) - uncertainty)
    limit = float(jobs_settings.LEASE_SECONDS) / 4
    ahead = "behind" if skew > 0 else "ahead of"
    detail = (
        f"This host's clock is {abs(skew):.3f}s {ahead} the database's "
        f"(± {uncertainty:.3f}s); LEASE_SECONDS / 4 is {limit:g}s."
    )
    action = (
        "Synchronise this host and the database server with NTP (chrony, systemd-timesyncd) "
        "and check every worker host the same way."
    )
    if beyond > limit:
        return [problem(NAME, "Clocks far apart", detail, action)]
    if beyond > WARNING_SECONDS:
        return [warning(NAME, "Clocks drifting apart", detail, action)]
    return [ok(NAME, TITLE, detail)]
