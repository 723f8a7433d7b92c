"""The deploying-workers how-to's PgBouncer blocks (tests/docs/deploying/pgbouncer*), checked.

The settings pass django-jobs' checks; the ``[pgbouncer]`` section is started by a real PgBouncer
(with the test's own address, port and authentication), and its pool follows the page's formula.
"""

from __future__ import annotations

import configparser
import runpy
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from django_jobs.checks import check_settings
from tests.pgbouncer import PgBouncer, skip_or_fail_without_pgbouncer

EXAMPLES = Path(__file__).resolve().parent / "deploying"

#: The page's example: machines x processes, --concurrency, jobs in the database at once.
PROCESSES, CONCURRENCY, JOBS_IN_DATABASE = 2 * 2, 10, 12


def example_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(inline_comment_prefixes=None, interpolation=None)
    ini.read(EXAMPLES / "pgbouncer.ini")
    return ini


def test_the_example_pool_follows_the_formula_of_the_page():
    section = example_ini()["pgbouncer"]
    assert section["pool_mode"] == "transaction"
    assert int(section["default_pool_size"]) == JOBS_IN_DATABASE + PROCESSES
    assert int(section["max_client_conn"]) >= PROCESSES * (CONCURRENCY + 3)


def test_a_real_pgbouncer_runs_the_example_section(tmp_path: Path):
    skip_or_fail_without_pgbouncer()
    section = dict(example_ini()["pgbouncer"])
    with PgBouncer(tmp_path, settings=section) as bouncer:
        config = {row["key"]: row["value"] for row in bouncer.show("CONFIG")}
        assert {key: config[key] for key in section} == section
        assert bouncer.pool_size == JOBS_IN_DATABASE + PROCESSES


@pytest.mark.postgres
def test_the_example_settings_pass_the_checks():
    example = runpy.run_path(str(EXAMPLES / "pgbouncer_settings.py"))
    database = example["DATABASES"]["default"]
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert "prepare_threshold" not in database.get("OPTIONS", {})
    assert connection.vendor == "postgresql"
    with override_settings(DJANGO_JOBS=example["DJANGO_JOBS"]):
        assert check_settings() == []
