"""Fire times of a cron expression at local wall time in a named zone, as aware UTC instants.

croniter walks naive wall-clock times, where every day has 24 hours; this module maps each wall
time to the instant it names in the zone. Two cases need a rule, and the rule is cron's own
(Vixie cron, ISC cron): a wall time that occurs twice, when clocks fall back, fires once, at its
first occurrence; a wall time the clocks skip, when they spring forward, fires at the moment of the
jump, so a job due in the skipped hour still runs that day, once. The map is monotone (a later
wall time never names an earlier instant), so walks in either direction meet every fire time in
order and stop at the first that fits. Nothing here touches Django.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from croniter import croniter

_ONE_SECOND = timedelta(seconds=1)


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """Return the aware UTC instant at which naive local ``wall`` time fires in ``zone``.

    An ambiguous wall time gives its first occurrence; a skipped one gives the instant the clocks
    jumped.

    >>> from zoneinfo import ZoneInfo
    >>> helsinki = ZoneInfo("Europe/Helsinki")
    >>> wall_to_instant(datetime(2024, 1, 15, 3, 30), helsinki).isoformat()
    '2024-01-15T01:30:00+00:00'
    >>> wall_to_instant(datetime(2024, 10, 27, 3, 30), helsinki).isoformat()  # fall back
    '2024-10-27T00:30:00+00:00'
    >>> wall_to_instant(datetime(2024, 3, 31, 3, 30), helsinki).isoformat()  # spring forward
    '2024-03-31T01:00:00+00:00'
    """
    # fold=0 picks the first of two occurrences (PEP 495); for a skipped time it applies the
    # offset from before the jump, which lands after the jump.
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    return _jump_instant(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), instant, zone)


def _jump_instant(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    # The offset changes once between ``before`` and ``after`` (at most a few hours apart);
    # bisect to the first whole second that has the new offset.
    target = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _local_wall(instant: datetime, zone: tzinfo) -> tuple[datetime, timedelta]:
    """Return ``instant``'s naive wall time in ``zone`` and how long its fold repeats after it.

    The second value is zero unless ``instant`` falls in the second pass of a fall-back hour,
    where later wall times of the first pass name earlier instants.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if not local.fold:
        return wall, timedelta(0)
    first = wall.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
    second = local.utcoffset() or timedelta(0)
    return wall, max(first - second, timedelta(0))


def next_fire_at(expression: str, zone: tzinfo, after: datetime) -> datetime:
    """Return the first fire time of ``expression`` in ``zone`` strictly after aware ``after``.

    Raises croniter's ``CroniterBadDateError`` when no fire time exists within croniter's search
    window (about 50 years), e.g. for February 30th.

    >>> from zoneinfo import ZoneInfo
    >>> next_fire_at("0 3 * * *", ZoneInfo("Europe/Helsinki"),
    ...              datetime(2024, 6, 1, 12, tzinfo=UTC)).isoformat()
    '2024-06-02T00:00:00+00:00'
    """
    wall, _ = _local_wall(after, zone)
    walk = croniter(expression, wall)
    while True:
        instant = wall_to_instant(walk.get_next(datetime), zone)
        # Only in a fall-back hour's second pass can a later wall time name an earlier instant.
        if instant > after:
            return instant


def fire_times_back(expression: str, zone: tzinfo, until: datetime) -> Iterator[datetime]:
    """Yield the fire times of ``expression`` in ``zone`` at or before ``until``, newest first.

    The iterator is endless (into the past); stop when a fire time is old enough. Each instant is
    yielded once even when several wall times map to it (a skipped hour).

    >>> from zoneinfo import ZoneInfo
    >>> times = fire_times_back("*/20 * * * *", ZoneInfo("UTC"), datetime(2024, 1, 1, 12, 50,
    ...                         tzinfo=UTC))
    >>> [t.strftime("%H:%M") for t in (next(times), next(times), next(times))]
    ['12:40', '12:20', '12:00']
    """
    wall, repeat = _local_wall(until, zone)
    # croniter's get_prev is strict; starting one second on includes a fire time at ``until``.
    walk = croniter(expression, wall.replace(microsecond=0) + repeat + _ONE_SECOND)
    previous: datetime | None = None
    while True:
        instant = wall_to_instant(walk.get_prev(datetime), zone)
        if instant <= until and instant != previous:
            previous = instant
            yield instant
