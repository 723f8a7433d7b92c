"""The runway's size (seconds of work, not a count) and its low-water wake-up."""

import math

from django_jobs.models import Job
from django_jobs.worker import runway
from django_jobs.worker.runway import MAX_RUNWAY, RUNWAY_SECONDS, Runway


def test_the_runway_holds_about_runway_seconds_of_the_slots_work():
    assert runway.size(10, math.inf) == 0  # not timed yet
    assert runway.size(10, 0.001) == 10 * RUNWAY_SECONDS / 0.001
    assert runway.size(10, 0.000_001) == MAX_RUNWAY
    assert runway.size(10, RUNWAY_SECONDS) == 10  # one job per slot
    assert runway.size(10, 10 * RUNWAY_SECONDS * 1.01) == 0  # slow jobs: none ahead
    assert runway.size(1, 2 * RUNWAY_SECONDS) == 0


def test_a_slot_taking_the_job_that_reaches_low_water_wakes_the_main_thread_once():
    woken = []
    lane = Runway(on_low=lambda: woken.append(len(lane)))
    jobs = [Job(id=i) for i in range(6)]
    lane.extend(jobs, low_water=2)
    taken = [lane.take() for _ in range(4)]
    assert taken == jobs[:4] and woken == [2]
    assert lane.take_all() == jobs[4:]
    assert lane.take() is None and len(lane) == 0
