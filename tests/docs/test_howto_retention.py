"""The retention how-to's code blocks, run as the page shows them.

Its file is an example in tests/docs/retention/; the shell commands run through the real
``manage.py jobs`` command on the test database, and the SQL runs on it too.
"""

from __future__ import annotations

import io
import re
import runpy
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_jobs.checks import RETENTIONS, check_settings
from django_jobs.conf import DEFAULTS
from django_jobs.models import Job, JobStatus

from .pages import DOCS, included_sources, page_blocks

PAGE = "howto/operating/retention.md"
EXAMPLES = Path(__file__).resolve().parent / "retention"
PRUNE = "python manage.py jobs prune --dry-run"
LEADER = "SELECT name, worker_id, elected_at, expires_at FROM django_jobs_leader;"
VACUUM = (
    "SELECT n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables "
    "WHERE relname = 'django_jobs_job';"
)
#: Blocks a test here runs, by their first line (see test_code_blocks.RUN_BY_TESTS).
COMMANDS = {PRUNE, LEADER, VACUUM}


def _block(first_line: str) -> str:
    [body] = [b.body for b in page_blocks(PAGE) if b.body.splitlines()[0] == first_line]
    return body


def test_every_file_the_page_includes_is_an_example_here():
    assert included_sources(PAGE) == [EXAMPLES / "settings_snippet.py"]


def test_the_settings_pass_the_checks_and_are_all_retention_settings():
    settings = runpy.run_path(str(EXAMPLES / "settings_snippet.py"))["DJANGO_JOBS"]
    assert set(settings) == {*RETENTIONS, "PRUNE_INTERVAL_SECONDS"}
    with override_settings(DJANGO_JOBS=settings):
        assert check_settings() == []


def test_the_table_gives_each_settings_real_default():
    rows = re.findall(r"^\| .* \| `(\w+_RETENTION_SECONDS)` \| `(\w+)`", (DOCS / PAGE).read_text(),
                      re.MULTILINE)  # fmt: skip
    assert {name for name, _ in rows} == set(RETENTIONS)
    for name, default in rows:
        assert default == str(DEFAULTS[name]), name


@pytest.mark.django_db(transaction=True)
def test_the_prune_commands_count_then_delete_only_old_finished_jobs():
    now = timezone.now()
    old = Job.objects.create(task_path="t", status=JobStatus.DONE, finished_at=now - timedelta(2))
    cancelled = Job.objects.create(
        task_path="t", status=JobStatus.CANCELLED, finished_at=now - timedelta(2)
    )
    recent = Job.objects.create(task_path="t", status=JobStatus.DONE, finished_at=now)
    queued = Job.objects.create(task_path="t")
    outputs = []
    for line in _block(PRUNE).splitlines():
        argv = shlex.split(line)
        assert argv[:3] == ["python", "manage.py", "jobs"]
        out = io.StringIO()
        call_command(*argv[2:], stdout=out, stderr=io.StringIO())
        outputs.append(out.getvalue())
        if "--dry-run" in argv:
            assert Job.objects.count() == 4
    assert "would delete" in outputs[0] and "deleted" in outputs[1]
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, queued.pk}
    assert not Job.objects.filter(pk__in=[old.pk, cancelled.pk]).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sql_blocks_run():
    from django_jobs import leadership

    leadership.acquire(leadership.PRUNER, "w1", lease_seconds=30)
    with connection.cursor() as cursor:
        cursor.execute(_block(LEADER))
        assert [row[:2] for row in cursor.fetchall()] == [("pruner", "w1")]
        cursor.execute(_block(VACUUM))
        assert [c.name for c in cursor.description] == ["n_live_tup", "n_dead_tup",
                                                        "last_autovacuum"]  # fmt: skip
