"""Pickup latency histograms: bucket bounds, merging, percentile estimates against exact ones."""

from __future__ import annotations

import math
import random

import pytest

from django_jobs import latency


def histogram(values: list[float]) -> list[int]:
    counts = latency.empty()
    for value in values:
        counts[latency.bucket_index(value)] += 1
    return counts


def exact(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def test_bounds_are_the_1_2_5_series_from_a_millisecond_to_5000_seconds():
    assert latency.BOUNDS[:4] == (0.001, 0.002, 0.005, 0.01)
    assert latency.BOUNDS[-1] == 5000.0
    steps = zip(latency.BOUNDS, latency.BOUNDS[1:], strict=False)
    assert all(upper / lower <= 2.5 + 1e-9 for lower, upper in steps)
    assert latency.SIZE == len(latency.BOUNDS) + 1 == 22


@pytest.mark.parametrize(
    ("seconds", "index"),
    [(-1.0, 0), (0.0, 0), (0.001, 0), (0.0011, 1), (0.002, 1), (0.9, 9), (1.0, 9), (6000.0, 21)],
)
def test_a_value_lands_in_the_bucket_whose_upper_bound_holds_it(seconds, index):
    assert latency.bucket_index(seconds) == index


@pytest.mark.parametrize("fraction", [0.5, 0.95, 0.99])
@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.lognormvariate(math.log(0.05), 1.0),  # LISTEN/NOTIFY pickups: tens of ms
        lambda rng: rng.uniform(0.0, 1.0),  # polling once a second
        lambda rng: rng.expovariate(1 / 30.0),  # a backlog of half a minute
    ],
)
def test_estimate_is_within_a_bucket_of_the_exact_percentile(draw, fraction):
    rng = random.Random(7)
    values = [draw(rng) for _ in range(5000)]
    estimate = latency.percentile(histogram(values), fraction)
    truth = exact(values, fraction)
    # The estimate and the truth are in the same bucket or adjacent ones: within a factor 2.5.
    assert truth / 2.5 <= estimate <= truth * 2.5, (estimate, truth)


def test_percentile_of_merged_histograms_is_that_of_all_their_values():
    rng = random.Random(11)
    fast = [rng.uniform(0.001, 0.01) for _ in range(900)]
    slow = [rng.uniform(2.0, 5.0) for _ in range(100)]
    merged = latency.merge([histogram(fast), histogram(slow)])
    assert merged == histogram(fast + slow)
    assert latency.percentile(merged, 0.5) < 0.01
    assert 2.0 <= latency.percentile(merged, 0.95) <= 5.0


def test_values_beyond_the_last_bound_are_reported_as_the_last_bound():
    assert latency.percentile(histogram([9000.0, 9000.0]), 0.5) == 5000.0


def test_a_histogram_with_no_values_has_no_percentile():
    assert latency.percentile(latency.empty(), 0.95) is None


def test_a_fraction_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1, got 95"):
        latency.percentile(histogram([1.0]), 95)


def test_merge_reads_short_or_long_rows_as_zeros_past_their_end():
    assert latency.merge([[1], [0, 2]])[:3] == [1, 2, 0]
    assert len(latency.merge([[1] * 30])) == latency.SIZE
