"""The retry policy and backoff arithmetic, table-driven; no database."""

import datetime as dt
import random

import pytest

from django_jobs import backoff
from django_jobs.exceptions import PermanentError, SerializationError, UnknownTaskError
from django_jobs.retry import Backoff, next_run_at

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "error", "delay"),
    [
        (1, 3, RuntimeError(), 10),
        (2, 3, RuntimeError(), 20),
        (3, 3, RuntimeError(), None),  # last attempt used
        (5, 3, RuntimeError(), None),  # more than allowed (e.g. rescued) still dead
        (1, 10, PermanentError(), None),
        (1, 10, SerializationError(), None),
        (1, 10, UnknownTaskError(), None),  # a refused task path never runs again
        (9, 10, ValueError(), 40),  # capped
        (1, 10, KeyboardInterrupt(), 10),  # any BaseException is an ordinary failure
    ],
)
def test_next_run_at(attempts, max_attempts, error, delay):
    figures = Backoff(base_seconds=10, max_seconds=40, jitter_ratio=0)
    got = next_run_at(
        attempts=attempts, max_attempts=max_attempts, error=error, now=NOW, backoff_figures=figures
    )
    assert got == (None if delay is None else NOW + dt.timedelta(seconds=delay))


def test_jitter_spreads_within_the_ratio_and_never_exceeds_the_cap():
    rng = random.Random(1)
    delays = [
        backoff.retry_delay(20, base_seconds=1, max_seconds=60, jitter_ratio=0.25, rng=rng)
        for _ in range(1000)
    ]
    assert min(delays) >= 45 and max(delays) <= 60
    assert max(delays) - min(delays) > 10, "jitter should spread retries"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0, "base_seconds": 1, "max_seconds": 1},
        {"attempt": 1, "base_seconds": -1, "max_seconds": 1},
    ],
)
def test_exponential_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        backoff.exponential(**kwargs)


def test_huge_attempt_numbers_stay_cheap_and_capped():
    assert backoff.exponential(10**6, base_seconds=1, max_seconds=3600) == 3600
