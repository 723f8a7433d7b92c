"""Latency histograms on fixed, log-spaced buckets: count a value, merge, estimate a percentile.

A histogram is a list of ``len(BOUNDS) + 1`` counts: count ``i`` holds values in
``(BOUNDS[i-1], BOUNDS[i]]`` (the first from 0, the last above ``BOUNDS[-1]``). The bounds
never change, so histograms written by many workers over many minutes merge by adding counts
element-wise, and a percentile of the merged counts is the percentile of all their values,
within a bucket's width. The 1-2-5 series from 1 ms to 5000 s (22 buckets, each at most 2.5
times the one below) is the idea of Prometheus' fixed histogram buckets; the estimate
interpolates inside a bucket on a log scale, as HdrHistogram's log buckets suggest.

No Django import: pure functions, doctested.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

#: Upper bounds of the buckets, in seconds: 1, 2, 5 times 10**-3 .. 10**3.
BOUNDS: tuple[float, ...] = tuple(
    round(step * 10.0**exponent, 3) for exponent in range(-3, 4) for step in (1, 2, 5)
)
#: Counts per histogram: one per bound, plus one for values above the last.
SIZE = len(BOUNDS) + 1


def empty() -> list[int]:
    """Return a histogram with no values: ``SIZE`` zeros."""
    return [0] * SIZE


def bucket_index(seconds: float) -> int:
    """Return the index of the bucket that holds ``seconds`` (negative values count as 0).

    >>> bucket_index(0.0), bucket_index(0.001), bucket_index(0.0011), bucket_index(1e9)
    (0, 0, 1, 21)
    """
    return bisect.bisect_left(BOUNDS, max(0.0, seconds))


def merge(histograms: Iterable[Sequence[int]]) -> list[int]:
    """Add ``histograms`` element-wise; a short or missing one counts as zeros.

    >>> merge([[1, 2], [0, 1, 5]])[:3]
    [1, 3, 5]
    """
    total = empty()
    for counts in histograms:
        for index, count in enumerate(counts[:SIZE]):
            total[index] += int(count)
    return total


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """Estimate the ``fraction`` (0..1, e.g. 0.95) percentile of a histogram, in seconds.

    Returns None for a histogram with no values. The value lies in the bucket where the
    cumulative count reaches ``fraction`` of the total; inside it the estimate moves from the
    lower bound to the upper one on a log scale, by how far into the bucket's count the rank
    falls. The first bucket's lower edge is taken as half its bound; values above the last
    bound are reported as the last bound (the histogram cannot tell more). Raises
    ``ValueError`` for a fraction outside 0..1.

    >>> counts = empty()
    >>> counts[bucket_index(0.015)] = 100          # 100 pickups in (10 ms, 20 ms]
    >>> round(percentile(counts, 0.5), 4)           # half-way on a log scale
    0.0141
    >>> counts[bucket_index(3.0)] = 10              # 10 slow ones in (2 s, 5 s]
    >>> round(percentile(counts, 0.5), 4), round(percentile(counts, 0.95), 2)
    (0.0146, 3.02)
    >>> percentile(empty(), 0.5) is None
    True
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(fraction * total, 1e-9)
    seen = 0
    for index, count in enumerate(counts):
        if count <= 0:
            continue
        if seen + count >= rank or index >= len(BOUNDS):
            if index >= len(BOUNDS):
                return BOUNDS[-1]
            upper = BOUNDS[index]
            lower = BOUNDS[index - 1] if index else upper / 2
            share = (rank - seen) / count
            return math.exp(math.log(lower) + share * (math.log(upper) - math.log(lower)))
        seen += count
    return BOUNDS[-1]
