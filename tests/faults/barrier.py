"""``Racers``: run ``tests.faults.race`` steps in child processes released at the same instant.

The test holds ``pg_advisory_lock(key)``; each child sets Django up, then blocks on
``pg_advisory_lock_shared(key)``. Once every child waits there (seen in ``pg_locks``), the test
unlocks and all of them run their step at once. Each child prints one JSON line (see
``tests/faults/race.py``), returned here as a dict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import connection

from tests.conftest import ROOT, subprocess_env, wait_for


class Racers:
    """Start racers under barrier ``key`` (a bigint below 2**32), logging to ``folder``.

    ``close()`` kills whatever is still running (call it at the end of the test).
    """

    def __init__(self, folder: Path, key: int) -> None:
        self.folder = folder
        self.key = key
        self._started: list[subprocess.Popen[bytes]] = []

    def run(self, steps: Sequence[tuple[str, Sequence[int]]], api: str = "engine") -> list[dict]:
        """Run each ``(step, ids)`` in its own process, all released at once; return each one's
        outcome (``{"outcome": "ok", "value": ...}`` and so on), in the order of ``steps``.

        Fails the test if a racer ends before the barrier opens.
        """
        logs = [self.folder / f"{step}-{n}.log" for n, (step, _) in enumerate(steps)]
        children: list[subprocess.Popen[bytes]] = []
        self._advisory("pg_advisory_lock")
        try:
            for (step, ids), log in zip(steps, logs, strict=True):
                command = [sys.executable, "-m", "tests.faults.race", step, api, str(self.key)]
                with open(log, "wb") as out:
                    child = subprocess.Popen(
                        [*command, *map(str, ids)],
                        cwd=ROOT,
                        env=subprocess_env(),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                children.append(child)
                self._started.append(child)
            # Django's set-up alone takes seconds per process on a loaded machine.
            wait_for(
                lambda: (
                    self._waiting() == len(children) or any(c.poll() is not None for c in children)
                ),
                timeout=120,
                what=f"{len(children)} processes to wait at the barrier",
            )
            early = [
                log.read_text()
                for c, log in zip(children, logs, strict=True)
                if c.poll() is not None
            ]
            assert not early, f"a racer ended before the barrier opened: {early}"
        finally:
            self._advisory("pg_advisory_unlock")
        for child in children:
            child.wait(timeout=120)
        return [outcome(log.read_text()) for log in logs]

    def values(self, steps: Sequence[tuple[str, Sequence[int]]]) -> list[Any]:
        """``run(steps)``, asserting every racer's outcome is "ok"; return their values."""
        outcomes = self.run(steps)
        assert [o["outcome"] for o in outcomes] == ["ok"] * len(steps), outcomes
        return [o["value"] for o in outcomes]

    def close(self) -> None:
        for child in self._started:
            if child.poll() is None:
                child.kill()
                child.wait(30)

    def _waiting(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = 0 AND objid = %s "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [self.key],
            )
            return int(cursor.fetchone()[0])

    def _advisory(self, function: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [self.key])


def outcome(output: str) -> dict[str, Any]:
    """Return the last JSON line a racer printed, or ``{"outcome": "no-output", ...}``."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    return {"outcome": "no-output", "output": output[-2000:]}
