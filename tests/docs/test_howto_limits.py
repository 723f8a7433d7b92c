"""The concurrency-limit and rate-limit how-tos' code blocks (tests/docs/limits/), on the DB."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.test import override_settings

from django_jobs import checks, engine
from django_jobs.models import Job

from .limits.shop import jobs
from .pages import DOCS, page_blocks

PAGES = ("howto/concurrency-limits.md", "howto/rate-limits.md")
EXAMPLES = Path(__file__).resolve().parent / "limits"


def claim_limited(limit: int = 50) -> list[Job]:
    return engine.claim_limited(worker_id="w", limit=limit, lease_seconds=30).jobs


def settings_of(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name))["DJANGO_JOBS"]


def test_every_file_the_pages_include_is_an_example_here():
    included = {
        (DOCS / "howto" / block.include_path).resolve()
        for page in PAGES
        for block in page_blocks(page)
        if block.include_path
    }
    assert included == {
        EXAMPLES / "shop" / "jobs.py",
        EXAMPLES / "concurrency_settings.py",
        EXAMPLES / "rate_settings.py",
    }
    text = (EXAMPLES / "shop" / "jobs.py").read_text()
    for page in PAGES:
        for block in page_blocks(page):
            for option in ("start-after", "end-before"):
                marker = block.option(option)
                assert marker is None or marker.strip('"') in text, (page, marker)


@pytest.mark.django_db
def test_jobs_of_one_store_run_one_at_a_time_and_other_stores_beside_them():
    first, second, other = jobs.sync_soon(7), jobs.sync_soon(7), jobs.sync_soon(8)
    assert (first.concurrency_key, first.concurrency_limit) == ("store-7", 1)
    assert {job.id for job in claim_limited()} == {first.id, other.id}
    engine.complete(Job.objects.get(id=first.id), result=None)
    assert [job.id for job in claim_limited()] == [second.id]


@pytest.mark.django_db
def test_a_limit_alone_keys_the_task_and_an_enqueue_may_give_its_own():
    whole = [jobs.export_orders.enqueue(f"2026-0{m}") for m in range(1, 6)]
    assert whole[0].concurrency_key == "tests.docs.limits.shop.jobs.export_orders"
    acme = [jobs.export_for_big_customer(f"2026-0{m}") for m in range(1, 4)]
    assert acme[0].concurrency_limit == 2
    claimed = claim_limited()
    assert sum(job.concurrency_key == "export-acme" for job in claimed) == 2
    assert len(claimed) == 3 + 2


@pytest.mark.django_db
def test_the_settings_on_the_pages_pass_the_checks_and_limit_their_queues():
    for name in ("concurrency_settings.py", "rate_settings.py"):
        with override_settings(DJANGO_JOBS=settings_of(name)):
            assert checks.check_settings() == []
    with override_settings(DJANGO_JOBS=settings_of("concurrency_settings.py")):
        for i in range(5):
            jobs.sync_store.using(queue="mail", concurrency_key=f"m{i}").enqueue(i)
        assert len(claim_limited()) == 2
    with override_settings(DJANGO_JOBS=settings_of("rate_settings.py")):
        for i in range(12):
            jobs.sync_store.using(queue="sms", concurrency_key=f"s{i}").enqueue(i)
        assert sum(job.queue == "sms" for job in claim_limited()) == 10
        result = engine.claim_limited(worker_id="w", limit=50, lease_seconds=30)
        assert result.jobs == [] and 0 < result.wait_seconds <= 1
