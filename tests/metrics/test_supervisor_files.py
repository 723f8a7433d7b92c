"""The supervisor's sums survive the files its children are still creating.

``prometheus_client`` creates a child's value file before it sizes it: a scrape in that instant
finds a 0-byte file (prometheus/client_python#1199). Here real value files are written in
multiprocess mode by a separate process, beside a planted 0-byte file, as a child in that
instant leaves it.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import urllib.request

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from django_jobs.metrics.serve import SupervisorMetrics, fold_into_archive

CHILD = """
from prometheus_client import Counter
Counter("django_jobs_test_things", "Things.", ["kind"]).labels(kind="a").inc(3)
"""


def things(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "django_jobs_test_things_total"
    )


@pytest.fixture
def supervisor():
    metrics = SupervisorMetrics(0, "127.0.0.1")
    port = metrics.start()
    yield metrics, port
    metrics.close()


def write_child(directory: str) -> None:
    """Count 3 things in a new process, as a child of the supervisor does."""
    env = {"PROMETHEUS_MULTIPROC_DIR": directory, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=60)


def test_a_file_still_being_created_is_left_out_of_the_scrape_not_a_500(supervisor):
    metrics, port = supervisor
    write_child(metrics.directory)
    assert things(port) == 3
    # A child in the instant between creating its file and sizing it.
    empty = f"{metrics.directory}/counter_999999.db"
    open(empty, "wb").close()
    assert things(port) == 3
    # Folding an exited child whose file never got its header removes it and keeps the sums.
    metrics.child_exited(999999)
    assert things(port) == 3
    assert not os.path.exists(empty)


def test_folding_keeps_an_exited_childs_counts(supervisor):
    metrics, port = supervisor
    write_child(metrics.directory)
    write_child(metrics.directory)
    assert things(port) == 6
    files = glob.glob(os.path.join(metrics.directory, "counter_*.db"))
    pids = {int(os.path.basename(path)[len("counter_") : -len(".db")]) for path in files}
    for pid in pids:
        fold_into_archive(metrics.directory, pid)
    assert glob.glob(os.path.join(metrics.directory, "counter_*.db")) == [
        os.path.join(metrics.directory, "counter_archive.db")
    ]
    assert things(port) == 6
