"""The charts how-to's code blocks, run as the page shows them (tests/docs/charts/), on the DB."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from django_jobs import latency, rollups
from django_jobs.models import MinuteRollup
from django_jobs.rollups import Counts, minute_of

from .pages import included_sources

PAGE = "howto/operating/charts.md"
EXAMPLES = Path(__file__).resolve().parent / "charts"


def test_every_file_the_charts_how_to_includes_is_an_example_here():
    assert set(included_sources(PAGE)) == {EXAMPLES / "from_code.py"}


@pytest.mark.django_db
def test_reading_and_pruning_from_code_do_what_the_page_says(capsys):
    now = minute_of(timezone.now())
    slow = Counts(done=40, failed=2)
    slow.pickup_buckets[latency.bucket_index(0.03)] = 42
    rollups.add({
        ("mail", now): slow,
        ("mail", now - timedelta(minutes=5)): Counts(done=8),
        ("mail", now - rollups.KEEP - timedelta(minutes=1)): Counts(done=1),
    })  # fmt: skip

    names = runpy.run_path(str(EXAMPLES / "from_code.py"))

    line = capsys.readouterr().out.strip()
    assert line.startswith("mail: 48 done, 2 failed in the last hour; pickup p95 now 0.0")
    assert 0.02 < float(line.rsplit(" ", 1)[1]) <= 0.05
    assert names["deleted"] == 1
    assert MinuteRollup.objects.count() == 2
