"""Pure backoff arithmetic: capped exponential delays with jitter.

No Django imports: the functions take every figure they need as arguments, so they are easy to
reason about and to test. The shape follows Marc Brooker's "Exponential Backoff And Jitter" (AWS
Architecture Blog, 2015) and Oban's ``Oban.Backoff``: grow by powers of two, cap, then spread the
retries of many jobs that failed together so they do not all come back at the same instant.
"""

from __future__ import annotations

import random


def exponential(attempt: int, *, base_seconds: float, max_seconds: float) -> float:
    """Return the delay in seconds before retrying after failed attempt number ``attempt``.

    ``attempt`` counts from 1. The delay is ``base_seconds * 2 ** (attempt - 1)``, never more than
    ``max_seconds``. Raises ``ValueError`` for an attempt below 1 or negative figures.

    >>> [exponential(n, base_seconds=10, max_seconds=3600) for n in (1, 2, 3, 4)]
    [10.0, 20.0, 40.0, 80.0]
    >>> exponential(30, base_seconds=10, max_seconds=3600)
    3600.0
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base_seconds < 0 or max_seconds < 0:
        raise ValueError("base_seconds and max_seconds must not be negative")
    # Cap the exponent before raising 2 to it: attempt 2000 must not build a huge integer.
    exponent = min(attempt - 1, 64)
    return float(min(max_seconds, base_seconds * 2**exponent))


def jitter(delay: float, *, ratio: float, rng: random.Random | None = None) -> float:
    """Return ``delay`` reduced by a random fraction of up to ``ratio`` of itself.

    ``ratio`` is in [0, 1]: 0 returns ``delay`` unchanged, 1 is "full jitter" (anything from 0 to
    ``delay``). Jitter only shortens the delay, so the cap stays a cap. ``rng`` is for tests.

    >>> jitter(100.0, ratio=0)
    100.0
    >>> 80.0 <= jitter(100.0, ratio=0.2) <= 100.0
    True
    """
    if not 0 <= ratio <= 1:
        raise ValueError(f"jitter ratio must be between 0 and 1, got {ratio}")
    draw = (rng or random).random()
    return delay * (1 - ratio * draw)


def retry_delay(
    attempt: int,
    *,
    base_seconds: float,
    max_seconds: float,
    jitter_ratio: float,
    rng: random.Random | None = None,
) -> float:
    """Return the jittered, capped exponential delay in seconds after failed attempt ``attempt``.

    >>> retry_delay(3, base_seconds=1, max_seconds=60, jitter_ratio=0)
    4.0
    """
    delay = exponential(attempt, base_seconds=base_seconds, max_seconds=max_seconds)
    return jitter(delay, ratio=jitter_ratio, rng=rng)
