"""``Supervisor``: run N worker processes, restart them and pass signals on (``--processes``).

Threads share one GIL, so CPU-bound jobs need processes. Each child is a plain ``runworker`` with
the same options; children are started fresh (not forked), so no database connection or lock is
ever shared across a fork.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from ..backoff import exponential

logger = logging.getLogger(__name__)

#: A child younger than this gets a stop signal only once it is this old.
STARTUP_SECONDS = 2.0


def child_command(args: Sequence[str]) -> list[str]:
    """Return the command line that starts ``runworker args`` the way this process was started."""
    script = sys.argv[0]
    if script.endswith("__main__.py") or not os.path.exists(script):
        return [sys.executable, "-m", "django", "runworker", *args]
    return [sys.executable, script, "runworker", *args]


class Supervisor:
    """Keep ``processes`` children of ``runworker child_args`` running until stopped.

    A child that exits is restarted (with backoff when it keeps failing) unless ``burst`` is set
    or the supervisor is stopping. The first SIGTERM/SIGINT is passed to every child, which drain;
    a second is passed on too, and they exit at once. ``run()`` returns 0 when every child's last
    exit was 0, else 1. ``on_exit``, when given, is called with each exited child's pid (metrics
    forget its live values there).
    """

    def __init__(
        self,
        child_args: Sequence[str],
        *,
        processes: int,
        burst: bool = False,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.command = child_command(child_args)
        self.processes = processes
        self.burst = burst
        self.stopping = False
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self._started_at: dict[int, float] = {}
        self._signalled: set[int] = set()
        self._stop_signal: int | None = None
        self._failures: dict[int, int] = {}
        self._codes: dict[int, int] = {}
        self._on_exit = on_exit

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(self.processes):
            self._start(slot)
        while self.children:
            self._pass_on_stop()
            for slot, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                del self.children[slot]
                if self._on_exit is not None:
                    self._on_exit(child.pid)
                # A child still starting up has no handlers yet: the signal passed on to it
                # ends it outright. It held no jobs, so that is a clean stop.
                if self.stopping and code in (-signal.SIGINT, -signal.SIGTERM):
                    code = 0
                self._codes[slot] = code
                self._after_exit(slot, code)
            time.sleep(0.2)
        return 0 if all(code == 0 for code in self._codes.values()) else 1

    def _start(self, slot: int) -> None:
        # A session of its own: a signal sent to the whole process group (Ctrl-C in a terminal,
        # systemd's default KillMode) reaches a child only once, through the supervisor;
        # received twice, it would exit at once instead of draining.
        self.children[slot] = subprocess.Popen(self.command, start_new_session=True)
        self._started_at[slot] = time.monotonic()
        self._signalled.discard(slot)
        logger.info("Started worker process %d (pid %d)", slot, self.children[slot].pid)

    def _after_exit(self, slot: int, code: int) -> None:
        if self.stopping or self.burst:
            return
        # A clean exit (done, recycled) restarts at once; a crash backs off more each time.
        failed = code not in (0, 3)
        self._failures[slot] = self._failures.get(slot, 0) + 1 if failed else 0
        failures = self._failures[slot]
        delay = exponential(failures, base_seconds=0.5, max_seconds=30) if failures else 0.0
        logger.warning("Worker process %d exited with %d; restarting in %.1fs", slot, code, delay)
        time.sleep(delay)
        if not self.stopping:
            self._start(slot)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:  # a second signal: every child exits at once
            for child in self.children.values():
                if child.poll() is None:
                    child.send_signal(signum)
            return
        self.stopping, self._stop_signal = True, signum
        self._pass_on_stop()

    def _pass_on_stop(self) -> None:
        # A child gets the stop signal once, and only after STARTUP_SECONDS: a Python process
        # still importing has no handler yet and would die of the signal instead of draining.
        if self._stop_signal is None:
            return
        for slot, child in self.children.items():
            old_enough = time.monotonic() - self._started_at[slot] >= STARTUP_SECONDS
            if slot not in self._signalled and old_enough and child.poll() is None:
                child.send_signal(self._stop_signal)
                self._signalled.add(slot)
