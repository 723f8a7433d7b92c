"""Follow docs/tutorial/quickstart.md literally in a copy of its project, and check what it shows.

``walk(python, workdir)`` copies ``quickstart/`` (the files the tutorial's page includes) to
``workdir``, outside the source tree, and runs the tutorial's own commands (the constants below,
which tests/docs/test_quickstart.py finds word for word in the page) with ``python`` standing for
the reader's interpreter: migrate, sign up through ``runserver``, count the jobs, run a worker, see
a job fail and retry, fix the cause, see it dead-lettered, replay it from the admin, and look at
the admin's pages. It raises ``AssertionError`` naming the step that went wrong.

Two callers: tests/docs/test_quickstart.py (the test suite's interpreter, on SQLite or
PostgreSQL) and scripts/check_package.py (a fresh virtualenv holding the built wheel, on
SQLite). Each command gets ``timeout_seconds`` (60) at most.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "quickstart"
TIMEOUT_SECONDS = 60

# The tutorial's commands, word for word (test_quickstart checks that the page shows each).
MIGRATE = "python manage.py migrate"
RUNSERVER = "python manage.py runserver"
SIGNUP_ADA = "curl -X POST -d username=ada -d email=ada@example.com http://127.0.0.1:8000/signup/"
SIGNUP_BOB = "curl -X POST -d username=bob -d email= http://127.0.0.1:8000/signup/"
COUNT_JOBS = (
    'python manage.py shell -v 0 -c "from django_jobs.models import Job; '
    'print(Job.objects.count())"'
)
RUNWORKER = "python manage.py runworker"
FIX_BOB = (
    'python manage.py shell -c "from django.contrib.auth.models import User; '
    "User.objects.filter(username='bob').update(email='bob@example.com')\""
)
COMMANDS = (MIGRATE, RUNSERVER, SIGNUP_ADA, SIGNUP_BOB, COUNT_JOBS, RUNWORKER, FIX_BOB)


def walk(python: str, workdir: Path, settings: str = "mysite.settings") -> None:
    """Run the tutorial in ``workdir`` (created) with ``python`` and the settings module given."""
    shutil.copytree(PROJECT, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    shutil.copy(HERE / "admin_steps.py", workdir)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_JOBS_REQUIRE_BROWSER", None)

    def run(command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(command)
        if argv[0] == "python":
            argv[0] = python
        done = subprocess.run(
            [*argv, *extra],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{command} {' '.join(extra)} failed:\n{done.stderr}"
        return done

    run(MIGRATE)
    server, port = _start_server(python, workdir, env)
    try:
        first = _curl(SIGNUP_ADA, port)
        assert first == (201, {"user_id": 1, "job_id": 1}), f"first signup answered {first}"
        again = _curl(SIGNUP_ADA, port)
        assert again[0] == 500, f"the repeated signup answered {again}, not 500 (IntegrityError)"
        count = run(COUNT_JOBS).stdout.strip()
        assert count == "1", f"the rolled-back signup left {count} jobs, not 1"

        worker = run(RUNWORKER, "--burst")
        for line in (
            "started: queues=all concurrency=10 prefetch=0",
            ": 1 done, 0 retried, 0 dead-lettered, 0 lost in the last",
        ):
            assert line in worker.stderr, f"the worker's log lacks {line!r}:\n{worker.stderr}"
        assert "Hello ada, thanks for signing up." in worker.stdout, worker.stdout

        status, bob = _curl(SIGNUP_BOB, port)
        assert status == 201, f"bob's signup answered {status} {bob}"
        _fail_until_dead(run, bob["job_id"])
        run(FIX_BOB)
        run("python admin_steps.py replay", str(bob["job_id"]))
        worker = run(RUNWORKER, "--burst")
        assert "To: bob@example.com" in worker.stdout, worker.stdout
        run("python admin_steps.py pages")
    finally:
        server.terminate()
        server.wait(TIMEOUT_SECONDS)


def _fail_until_dead(run, job_id: int) -> None:
    """Run bob's job five times, pressing **Run now** instead of waiting out each backoff."""
    failed = "accounts.jobs.send_welcome_email failed in"
    for attempt in range(1, 6):
        if attempt > 1:
            run("python admin_steps.py run-now", str(job_id))
        log = run(RUNWORKER, "--burst").stderr
        outcome = "and was dead-lettered" if attempt == 5 else "retry at"
        expected = f"Job {job_id} {failed}"
        assert expected in log and f"on attempt {attempt}/5" in log and outcome in log, log
        assert "ValueError: User 'bob' has no email address" in log, log


def _start_server(python: str, workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """Start ``runserver`` on a free port (8000 may be taken) and wait until it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [python, *shlex.split(RUNSERVER)[1:], f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            assert server.poll() is None, "runserver exited at start"
            time.sleep(0.1)
    server.terminate()
    raise AssertionError(f"runserver did not answer on port {port} in {TIMEOUT_SECONDS}s")


def _curl(command: str, port: int) -> tuple[int, dict | None]:
    """Send what a ``curl -X POST -d k=v ... URL`` command sends; return (status, JSON or None)."""
    argv = shlex.split(command)
    fields = [tuple(argv[i + 1].split("=", 1)) for i, word in enumerate(argv) if word == "-d"]
    url = argv[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    body = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(url, data=body, timeout=TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
