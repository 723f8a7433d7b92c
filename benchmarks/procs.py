"""Worker processes for the harness: start, wait, stop, and read their CPU time and memory."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.peers.base import LOGS

CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


class BenchError(RuntimeError):
    """A measurement could not finish (a worker failed, jobs were left undone)."""


def wait_exit(procs: list[subprocess.Popen[bytes]], timeout: float, what: str) -> None:
    """Wait for every process to exit 0 within ``timeout`` seconds; kill them and raise if not."""
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if code != 0:
                raise BenchError(f"{what}: a worker exited with {code}; see {LOGS}")
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what}: workers still running after {timeout:.0f}s") from exc
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    """Poll ``condition`` every ``every`` seconds until it holds; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a worker and wait for it to exit (SIGKILL after 30 s)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc/<pid>/task/*/children``)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB (``VmRSS``); 0 once it is gone."""
    total = 0
    for each in tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far, in seconds (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS
