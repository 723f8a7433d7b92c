"""Fixtures shared by the suite: database vendor checks and real worker processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

# The jobs command wraps its tables at $COLUMNS when set, and pytest-xdist sets it to 80 in its
# workers: tests read the tables as a pipe gets them, whatever runs the suite.
os.environ.pop("COLUMNS", None)

ROOT = Path(__file__).resolve().parent.parent

#: Fixtures of a real PgBouncer (``pgbouncer``, ``default_through_pgbouncer``).
pytest_plugins = ["tests.pgbouncer"]

#: How long a ``manage.py`` child may take to start. Measured on this 2-core machine with a CPU
#: hog beside the tests: a lone worker starts in 0.6-1 s, three restarting at once in up to
#: 3.3 s each. The wait ends as soon as the child is up; only a child that never starts fails.
START_SECONDS = 60.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def wait_for(
    condition: Callable[[], object],
    *,
    timeout: float = 30.0,
    what: str = "",
    describe: Callable[[], object] | None = None,
) -> object:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``.

    ``describe``, when given, is called on failure and its value added to the message: the state
    that was seen instead (rows, a process's output), so a miss says why.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    seen = f"; seen instead: {describe()}" if describe is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what or condition}{seen}")


class Progress:
    """Wait for a count to reach a target, failing when it stops growing, not when time passes.

    For tests whose duration follows the machine's speed (thousands of jobs beside a CPU hog):
    ``reached(target)`` returns whether ``count()`` reached ``target`` and fails the test once the
    count has not grown for ``stall_seconds``: jobs wedged or lost, not slow. ``cap_seconds`` is a
    safety net against a trickle, far above any healthy run.
    """

    def __init__(
        self,
        count: Callable[[], int],
        *,
        what: str,
        stall_seconds: float = 60.0,
        cap_seconds: float = 1200.0,
        describe: Callable[[], object] | None = None,
    ) -> None:
        self.count, self.what, self.describe = count, what, describe
        self.stall_seconds, self.cap_seconds = stall_seconds, cap_seconds
        self.started_at = self.grew_at = time.monotonic()
        self.best = -1

    def reached(self, target: int) -> bool:
        value, now = self.count(), time.monotonic()
        if value >= target:
            return True
        if value > self.best:
            self.best, self.grew_at = value, now
        stalled = now - self.grew_at > self.stall_seconds
        if stalled or now - self.started_at > self.cap_seconds:
            seen = f"; seen: {self.describe()}" if self.describe is not None else ""
            why = f"no progress for {self.stall_seconds}s" if stalled else "the safety cap"
            pytest.fail(f"{self.what}: stuck at {value}/{target} ({why}){seen}")
        return False

    def wait(self, target: int, poll_seconds: float = 0.1) -> None:
        """Block until ``reached(target)``."""
        while not self.reached(target):
            time.sleep(poll_seconds)


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child ``manage.py`` that uses this test run's database."""
    settings = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    if connection.vendor == "postgresql":
        host = settings["HOST"] or "127.0.0.1"
        port = settings["PORT"] or 5432
        env["DATABASE_URL"] = f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
    env.update(extra)
    return env


def thread_stacks(pid: int) -> str:
    """Return every thread's stack of process ``pid`` (``py-spy dump``), for a failure message.

    Empty when py-spy is not installed or cannot read the process: a test that fails because a
    worker hung then says where it hung.
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return ""
    try:
        dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True,
                              timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return f"\n--- its threads (py-spy dump) ---\n{dump.stdout[-6000:]}{dump.stderr[-500:]}"


class ManagedProcess:
    """A ``manage.py`` child whose output goes to a file, never to a pipe nobody reads.

    (A full pipe blocks the child's logging, and with it, in a worker, the heartbeat.)
    """

    def __init__(self, command: str, args: tuple[str, ...], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "django", command, *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals from a test reach only what it means them for
            )
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_started(
        self, marker: str = " started: ", timeout: float = START_SECONDS
    ) -> None:
        """Wait until the child has printed ``marker`` (a worker's start line, by default).

        Fails the test if the child exits first, or has not printed it after ``timeout``. A
        worker that printed it has its signal handlers in place and may claim jobs.
        """
        wait_for(
            lambda: marker in self.output() or self.proc.poll() is not None,
            timeout=timeout,
            what=f"process {self.pid} to print {marker.strip()!r}",
            describe=lambda: self.output()[-2000:],
        )
        if marker not in self.output():
            pytest.fail(f"process {self.pid} exited ({self.proc.poll()}):\n{self.output()[-3000:]}")

    def finish(self, timeout: float) -> tuple[int, str]:
        """Wait for the process to exit; return its exit code and everything it printed."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"process {self.pid} still running after {timeout}s:\n{self.output()[-3000:]}"
                f"{thread_stacks(self.pid)}"
            )
        return code, self.output()

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def start_command(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., ManagedProcess]]:
    """Start ``manage.py <command>`` processes on the test database; kill leftovers at the end."""
    started: list[ManagedProcess] = []

    def start(command: str, *args: str, **env: str) -> ManagedProcess:
        log = tmp_path / f"{command}-{len(started)}.log"
        process = ManagedProcess(command, args, subprocess_env(**env), log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def start_worker(start_command: Callable[..., ManagedProcess]) -> Callable[..., ManagedProcess]:
    """Start ``manage.py runworker`` with the given arguments (see ``start_command``)."""
    return lambda *args, **env: start_command("runworker", *args, **env)


_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION django_jobs_test_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'fault injection: UPDATE of job % refused', NEW.id
        USING ERRCODE = TG_ARGV[0];
END;
$$ LANGUAGE plpgsql
"""


@pytest.fixture
def refuse_job_updates(transactional_db: None) -> Iterator[Callable[..., Callable[[], None]]]:
    """Make PostgreSQL refuse every UPDATE of one job row, as a real fault would.

    ``refuse(job_id, sqlstate="22000")`` installs a row trigger on ``django_jobs_job`` that raises
    ``sqlstate`` (22000: a ``DataError``; 25006: read-only, as on a standby after failover) when
    an UPDATE touches that row, with the message "fault injection: UPDATE of job <id> refused".
    Any statement that updates the row fails as a whole, whatever other rows it covers. Returns
    a function that drops the trigger; whatever is left is dropped at the end of the test (the
    flush between tests truncates tables, not triggers).
    """
    installed: set[str] = set()

    def drop(name: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON django_jobs_job")
        installed.discard(name)

    def refuse(job_id: int, sqlstate: str = "22000") -> Callable[[], None]:
        if not re.fullmatch(r"[0-9A-Z]{5}", sqlstate):
            raise ValueError(f"not a SQLSTATE: {sqlstate!r}")
        name = f"django_jobs_test_refuse_{int(job_id)}"
        with connection.cursor() as cursor:
            cursor.execute(_REFUSE_FUNCTION)
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE UPDATE ON django_jobs_job FOR EACH ROW "
                f"WHEN (NEW.id = {int(job_id)}) "
                f"EXECUTE FUNCTION django_jobs_test_refuse_update('{sqlstate}')"
            )
        installed.add(name)
        return lambda: drop(name)

    yield refuse
    for name in list(installed):
        drop(name)
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION IF EXISTS django_jobs_test_refuse_update()")
