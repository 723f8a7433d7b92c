"""Three worker hosts on one PostgreSQL, one of them cut off from the database mid-run.

Each host is a network namespace of its own (tests/acceptance/netns.py) running a real
``manage.py runworker``; PostgreSQL is reached through a forwarder in the root namespace, as a
database on another machine would be. Mid-run, host 2's link is taken down on the root side: its
connections neither fail nor answer, as in a real partition. The test asserts what
docs/explanation/delivery-guarantees.md promises for that case:

- the other hosts rescue host 2's jobs once its leases expire and finish every job;
- nothing is lost, and only jobs host 2 had started ran twice (once on it, once on a rescuer);
- once the link is back, host 2 logs the loss of each of those leases and its late writes change
  no row: neither the done ones nor those running again on another host under a new lease token
  (a rescued slow job's second run waits on a file until the test has compared the rows);
- host 2 then takes work again.

It prints one line of figures (jobs, run twice, lost, seconds until host 2's jobs were rescued
and until it claimed again). Like the chaos suite, its waits follow the work (``Progress``,
``wait_for`` with generous deadlines), never the clock's luck, so it holds on a busy machine.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

import django_jobs
from django_jobs.models import DeadJob, Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import ROOT, ManagedProcess, Progress, subprocess_env, wait_for
from tests.models import Execution

from . import netns

pytestmark = [
    pytest.mark.postgres,
    # Serial: its timings (a cut link, TCP retransmissions) assume no other suite competes.
    pytest.mark.serial,
    pytest.mark.skipif(netns.available() is not None, reason=netns.available() or ""),
]

#: Short leases so a rescue comes within seconds; 4 s leaves a healthy worker on a busy
#: machine eight heartbeats to renew before anyone may rescue it.
LEASE_SECONDS, HEARTBEAT_SECONDS = 4.0, 0.5
FAST_JOBS, SLOW_JOBS, LATER_JOBS = 3000, 300, 60
#: Scheduling delay allowed on top of what a step needs; only a step that never happens uses it.
SLACK_SECONDS = 60.0
#: How long a TCP connection stalled by the cut may take to resume once the link is back: its
#: retransmissions back off exponentially (to 120 s at most) while the link is down.
RECONNECT_SECONDS = 240.0
CUT = 2


class NamespacedWorker(ManagedProcess):
    """``manage.py runworker`` run inside a network namespace by ``ip netns exec``.

    ``ip netns exec`` execs the command, so ``pid`` is the worker's own (the ``worker_pid`` its
    tasks record in ``Execution``).
    """

    def __init__(self, prefix: list[str], args: tuple[str, ...], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "django", "runworker", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.proc.pid


@pytest.fixture
def network(transactional_db: None) -> Iterator[netns.Network]:
    """Three hosts; everything made is removed at the end, however the test ended.

    SIGTERM (a CI job's timeout) is turned into ``KeyboardInterrupt`` meanwhile, so that it too
    unwinds through the clean-up instead of leaving namespaces and processes behind.
    """
    names_before = set(_namespaces())
    previous = signal.signal(signal.SIGTERM, _interrupt)
    net = None
    try:
        net = netns.Network(3)
        yield net
    finally:
        if net is not None:
            net.close()
        signal.signal(signal.SIGTERM, previous)
        left = set(_namespaces()) - names_before
        assert not left, f"namespaces left on the machine: {left}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _namespaces() -> list[str]:
    return netns.ip("netns", "list").stdout.split()


def start_hosts(net: netns.Network, tmp_path: Path) -> dict[int, NamespacedWorker]:
    ports = net.start_forwarder(tmp_path / "forwarder.log")
    overrides = json.dumps({"LEASE_SECONDS": LEASE_SECONDS, "HEARTBEAT_SECONDS": HEARTBEAT_SECONDS})
    name, user = connection.settings_dict["NAME"], connection.settings_dict["USER"]
    workers = {}
    for host in net.hosts:
        url = f"postgres://{user}@{host.root_ip}:{ports[host.number]}/{name}"
        env = subprocess_env(DATABASE_URL=url, DJANGO_JOBS_TEST_OVERRIDES=overrides)
        args = ("--concurrency", "3", "--worker-id", worker_id(host.number))
        log = tmp_path / f"worker-{host.number}.log"
        worker = NamespacedWorker(net.exec_prefix(host.number), args, env, log)
        net.adopt(worker.proc)
        workers[host.number] = worker
    for worker in workers.values():
        worker.wait_until_started()
    return workers


def worker_id(number: int) -> str:
    return f"host-{number}"


def enqueue_mixed(release: Path) -> list[str]:
    """Enqueue FAST_JOBS quick jobs and SLOW_JOBS of 0.2-1 s among them; return their keys.

    A slow job run again (rescued from host 2) waits until file ``release`` exists.
    """
    fast = [f"fast-{i}" for i in range(FAST_JOBS)]
    slow = [(f"slow-{i}", 0.2 + 0.8 * (i % 9) / 8, str(release)) for i in range(SLOW_JOBS)]
    enqueue_slow = partial(django_jobs.enqueue_many, hostile_tasks.sleep_then_rerun_waits)
    # Slow jobs first in claim order (lower ids) and then spread among the fast: every host
    # is running some when the cut comes.
    enqueue_slow(slow[: SLOW_JOBS // 3])
    step = FAST_JOBS // (SLOW_JOBS - SLOW_JOBS // 3)
    rest = slow[SLOW_JOBS // 3 :]
    for i in range(0, FAST_JOBS, step):
        django_jobs.enqueue_many(tasks.record, [(key,) for key in fast[i : i + step]])
        if rest:
            enqueue_slow([rest.pop(0)])
    enqueue_slow(rest)
    return fast + [key for key, *_ in slow]


def done_count() -> int:
    return Job.objects.filter(status=JobStatus.DONE).count()


def job_states() -> dict[str, object]:
    states = dict(Job.objects.values_list("status").annotate(n=Count("id")))
    held = dict(
        Job.objects.filter(status=JobStatus.RUNNING)
        .values_list("worker_id")
        .annotate(n=Count("id"))
    )
    return {**states, "dead": DeadJob.objects.count(), "running_by_worker": held}


def held_by(number: int, started: bool = False) -> list[int]:
    """Return the ids of running jobs host ``number`` holds (only started ones if ``started``)."""
    jobs = Job.objects.filter(status=JobStatus.RUNNING, worker_id=worker_id(number))
    if started:
        jobs = jobs.filter(started_at__isnull=False)
    return list(jobs.values_list("id", flat=True))


def rows(ids: list[int]) -> dict[int, tuple[object, ...]]:
    """Return every column a worker writes but the lease's expiry, for each job of ``ids``.

    (A running job's expiry moves with each heartbeat of the worker holding it.)
    """
    fields = ("status", "worker_id", "lease_token", "attempts", "result", "errors",
              "started_at", "finished_at", "run_at", "progress_percent")  # fmt: skip
    return {row[0]: row[1:] for row in Job.objects.filter(id__in=ids).values_list("id", *fields)}


def leases_lost_in(output: str) -> set[int]:
    """Return the ids of jobs a worker's log says it lost the lease of (heartbeat or outcome)."""
    ids = set()
    for listed in re.findall(r"lost the lease of jobs \[([0-9, ]*)\]", output):
        ids |= {int(i) for i in listed.split(",") if i.strip()}
    ids |= {int(i) for i in re.findall(r"Job ([0-9]+) \S+: lease lost before", output)}
    return ids


def rejoin(
    workers: dict[int, NamespacedWorker], first_id: int, done_before: int, seen
) -> list[str]:
    """Enqueue rounds of short jobs until host 2 has claimed some; return all their keys.

    The other hosts may take a whole round while host 2's stalled connections catch up, so a
    round that host 2 missed is followed by another, up to ``RECONNECT_SECONDS``.
    """
    later: list[str] = []
    deadline = time.monotonic() + RECONNECT_SECONDS
    while not Job.objects.filter(id__gte=first_id, worker_id=worker_id(CUT)).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"host 2 claimed nothing once back: {workers[CUT].output()[-3000:]}")
        batch = [(f"later-{len(later) + i}", 0.1) for i in range(LATER_JOBS)]
        django_jobs.enqueue_many(tasks.sleep_and_return_pid, batch)
        later += [key for key, _ in batch]
        Progress(done_count, what="the later jobs done", describe=seen).wait(
            done_before + len(later)
        )
    return later


def check_runs(keys: list[str], later: list[str], cut_pid: int) -> dict[str, int]:
    """Fail on a lost job or an unexplained second run; return the run counts."""
    runs = dict(Execution.objects.values_list("key").annotate(n=Count("id")))
    lost = [k for k in keys + later if k not in runs]
    assert not lost, f"lost jobs: {lost[:10]}"
    twice = [k for k in keys if runs[k] > 1]
    for key in twice:
        pids = list(Execution.objects.filter(key=key).values_list("worker_pid", flat=True))
        # Host 2's run may be recorded second: a task's own INSERT, stalled by the cut, lands
        # when the link is back.
        assert len(pids) == 2 and cut_pid in pids, (
            f"{key} ran {len(pids)} times by {pids}, not once on the cut-off host ({cut_pid}) "
            "and once on the host that rescued it"
        )
    assert all(runs[k] == 1 for k in later), "a job enqueued after the link came back ran twice"
    late = Execution.objects.filter(worker_pid=cut_pid).exclude(key__startswith="later-")
    return {"run_twice": len(twice), "lost": len(lost), "runs_by_host_2": late.count()}


def assert_unchanged(before: dict[int, tuple[object, ...]], when: str) -> None:
    after = rows(list(before))
    changed = [i for i in before if before[i] != after[i]]
    diff = [(i, before[i], after[i]) for i in changed[:5]]
    assert not changed, f"{when}, {len(changed)} jobs changed: {diff}"


def test_host_cut_off_from_the_database_is_rescued_fenced_and_rejoins(network, tmp_path):
    release = tmp_path / "release"
    keys = enqueue_mixed(release)
    total = len(keys)
    ids = list(Job.objects.values_list("id", flat=True))
    workers = start_hosts(network, tmp_path)
    cut_pid = workers[CUT].pid

    def seen() -> dict[str, object]:
        """The jobs' states and each worker's last lines: what a failure message shows."""
        tails = {n: w.output()[-1000:] for n, w in workers.items()}
        return {**job_states(), "worker_logs": tails}

    # Cut host 2 once a tenth of the work is done and it is running jobs it started.
    Progress(done_count, what="a tenth of the jobs done before the cut", describe=seen).wait(
        total // 10
    )
    wait_for(
        lambda: len(held_by(CUT, started=True)) >= 2,
        timeout=SLACK_SECONDS,
        what=f"host {CUT} to be running jobs",
        describe=seen,
    )
    network.cut(CUT)
    cut_at = time.monotonic()
    # The database no longer hears from host 2: what it holds now is what it was cut off with.
    held = dict(
        Job.objects.filter(status=JobStatus.RUNNING, worker_id=worker_id(CUT)).values_list(
            "id", "started_at"
        )
    )
    stranded = [i for i, at in held.items() if at is not None]
    assert stranded, "host 2 held no started job when cut: the test proved nothing"

    # Hosts 1 and 3 rescue them a lease later and run them again; a slow job's second run
    # waits for the release file, so it is still running when host 2 comes back.
    # (A write on its way through the forwarder when the link went down may still complete
    # one of them: done, it keeps host 2's worker_id.)
    wait_for(
        lambda: (
            not Job.objects.filter(
                id__in=stranded, status=JobStatus.RUNNING, worker_id=worker_id(CUT)
            ).exists()
        ),
        timeout=LEASE_SECONDS + SLACK_SECONDS,
        what="the other hosts to rescue host 2's jobs once its leases expired",
        describe=seen,
    )
    rescue_seconds = time.monotonic() - cut_at
    # Requeued, they are claimed after the jobs enqueued before them.
    Progress(
        lambda: Job.objects.filter(id__in=stranded).exclude(status=JobStatus.QUEUED).count(),
        what="hosts 1 and 3 to run host 2's jobs again",
        describe=seen,
    ).wait(len(stranded))
    rerun = Job.objects.filter(id__in=stranded, status=JobStatus.RUNNING, started_at__isnull=False)
    rescued = [i for i in stranded if Job.objects.get(id=i).worker_id != worker_id(CUT)]
    running_again = list(rerun.values_list("id", flat=True))
    others = Progress(
        lambda: Job.objects.exclude(id__in=running_again).filter(status=JobStatus.DONE).count(),
        what="every other job done by hosts 1 and 3",
        describe=seen,
    )
    others.wait(total - len(running_again))
    assert not DeadJob.objects.exists(), list(DeadJob.objects.values_list("message", flat=True))
    before = rows(ids)

    # Back: host 2's stalled connections resume, its heartbeat finds its leases gone and its
    # completer's writes, fenced by its old lease tokens, match no row: not the done ones,
    # nor the ones hosts 1 and 3 are running again under new tokens.
    network.restore(CUT)
    restored_at = time.monotonic()
    wait_for(
        lambda: set(rescued) <= leases_lost_in(workers[CUT].output()),
        timeout=RECONNECT_SECONDS,
        what=f"host 2 to log that it lost the leases of jobs {rescued}",
        describe=lambda: workers[CUT].output()[-3000:],
    )
    assert_unchanged(before, "once host 2 was back and logged its leases lost")
    release.touch()
    Progress(done_count, what="the jobs run again done", describe=seen).wait(total)
    completed_by = dict(Job.objects.filter(id__in=rescued).values_list("id", "result"))
    assert cut_pid not in completed_by.values(), completed_by
    settled = rows(ids)

    later = rejoin(workers, max(ids) + 1, total, seen)
    rejoin_seconds = time.monotonic() - restored_at
    # Every host stops cleanly: host 2's late writes are then all behind it.
    for worker in workers.values():
        worker.send_signal(signal.SIGTERM)
    for number, worker in workers.items():
        code, out = worker.finish(timeout=SLACK_SECONDS)
        assert code == 0, f"host {number} exited {code}:\n{out[-3000:]}"
    assert_unchanged(settled, "once host 2 had exited")
    assert done_count() == total + len(later)

    figures = {
        "jobs": total,
        "started_when_cut": len(stranded),
        "running_again_when_back": len(running_again),
        **check_runs(keys, later, cut_pid),
        "rescue_seconds": round(rescue_seconds, 1),
        "later_jobs": len(later),
        "later_by_host_2": Job.objects.filter(id__gt=max(ids), worker_id=worker_id(CUT)).count(),
        "rejoin_seconds": round(rejoin_seconds, 1),
    }
    print(f"\nmultihost partition: {figures}")
    assert running_again, "no rescued job was running again when host 2 came back"
