"""Serve a worker's metrics over HTTP: ``runworker --metrics-port`` alone or with ``--processes``.

One process: its ``MetricsObserver`` counts into a registry of its own, which
``prometheus_client.start_http_server`` serves from a daemon thread.

``--processes N``: the supervisor serves the port and its children count. Each child's values
must add up across processes that come and go (a child recycled for memory starts again at
zero), so this is ``prometheus_client``'s multiprocess mode: the supervisor makes a temporary
directory and names it in ``PROMETHEUS_MULTIPROC_DIR`` before any child starts (children inherit
it, and read it when they first import ``prometheus_client``); each child writes its values to
its own files there; at each scrape the supervisor's ``MultiProcessCollector`` sums the files of
every child, those that exited included, so counters never go back. A child's exit is reported
with ``mark_process_dead``; the directory is removed when the supervisor ends.

A supervisor runs for months and restarts children often (``--max-memory``, ``--max-jobs``), so
an exited child's files are folded into one archive file per metric type and removed: a scrape
reads the live children's files and the archive, not one pair of files per child ever started.
Folding and scraping share a lock, so no scrape counts a child both in its files and in the
archive.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
import threading
from typing import Any

from . import require_prometheus
from .observer import MetricsObserver

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _start_server(port: int, address: str, registry: Any) -> int:
    prometheus = require_prometheus()
    try:
        server, _thread = prometheus.start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        raise OSError(f"--metrics-port {port}: cannot listen on {address}:{port}: {exc}") from exc
    bound = int(server.server_address[1])
    logger.info("Serving metrics on http://%s:%d/metrics", address, bound)
    return bound


def serve_worker(port: int, address: str = "0.0.0.0") -> MetricsObserver:
    """Start serving this worker process's metrics on ``address:port``; return the observer.

    Port 0 takes a free port, logged ("Serving metrics on http://...") as the server starts.
    Raises ``MetricsUnavailableError`` without ``prometheus_client``, ``OSError`` when the port
    cannot be bound.
    """
    observer = MetricsObserver()
    _start_server(port, address, observer.registry)
    return observer


def child_observer() -> MetricsObserver:
    """Return the observer of a ``--processes`` child, counting into the supervisor's directory.

    Raises ``RuntimeError`` when ``PROMETHEUS_MULTIPROC_DIR`` is not set (the child was not
    started by a supervisor serving metrics).
    """
    if not os.environ.get(MULTIPROC_ENV):
        raise RuntimeError(f"{MULTIPROC_ENV} is not set: only a metrics supervisor starts this.")
    return MetricsObserver()


class _LockedCollector:
    """The summed files of every child, read while no child's files are being folded.

    ``prometheus_client`` creates a child's file before it sizes it, so a scrape can find a
    file of 0 bytes (prometheus/client_python#1199), and ``MultiProcessCollector.collect``
    then raises for every metric. A file shorter than its 8-byte header holds no value yet:
    it is left out of this scrape, and counted in the next once its child has sized it.
    """

    HEADER_BYTES = 8

    def __init__(self, directory: str, lock: threading.Lock) -> None:
        self._directory, self._lock = directory, lock

    def collect(self) -> list[Any]:
        from prometheus_client import multiprocess

        with self._lock:
            files = [path for path in glob.glob(os.path.join(self._directory, "*.db"))
                     if _size(path) >= self.HEADER_BYTES]  # fmt: skip
            return list(multiprocess.MultiProcessCollector.merge(files, accumulate=True))


def _size(path: str) -> int:
    """The size of ``path`` in bytes; 0 when it is gone (a gauge file of an exited child)."""
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def fold_into_archive(directory: str, pid: int) -> None:
    """Add the values of exited process ``pid``'s files in ``directory`` to the archive files
    (``counter_archive.db``, ``histogram_archive.db``), then remove them.

    Counter values and histogram buckets and sums are stored per process, uncumulated, so a sum
    of two processes' values is the value of both. Gauge files are removed (a gauge of a process
    that exited means nothing). The caller holds the lock that scrapes take.
    """
    from prometheus_client.mmap_dict import MmapedDict

    for path in glob.glob(os.path.join(directory, f"*_{pid}.db")):
        kind = os.path.basename(path).split("_", 1)[0]
        counted = kind in ("counter", "histogram", "summary")
        if counted and _size(path) >= _LockedCollector.HEADER_BYTES:
            archive = MmapedDict(os.path.join(directory, f"{kind}_archive.db"))
            try:
                for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(path):
                    current, _ = archive.read_value(key)
                    archive.write_value(key, current + value, 0.0)
            finally:
                archive.close()
        os.remove(path)


class SupervisorMetrics:
    """The metrics of a ``--processes`` supervisor's children, served on one port.

    ``start()`` makes the directory, sets ``PROMETHEUS_MULTIPROC_DIR`` and starts the server;
    call it before starting any child. ``child_exited(pid)`` after each child's exit;
    ``close()`` at the end. Raises as ``serve_worker`` does.
    """

    def __init__(self, port: int, address: str = "0.0.0.0") -> None:
        self.port, self.address = port, address
        self.directory: str | None = None
        self._lock = threading.Lock()

    def start(self) -> int:
        """Serve the children's summed metrics; return the bound port."""
        prometheus = require_prometheus()
        self.directory = tempfile.mkdtemp(prefix="django-jobs-metrics-")
        os.environ[MULTIPROC_ENV] = self.directory
        logger.info("Children's metrics are summed from %s", self.directory)
        registry = prometheus.CollectorRegistry()
        registry.register(_LockedCollector(self.directory, self._lock))
        return _start_server(self.port, self.address, registry)

    def child_exited(self, pid: int) -> None:
        """Fold child ``pid``'s counts into the archive (they stay in the sums); forget its
        live gauges. Errors are logged: metrics never stop the supervisor."""
        from prometheus_client import multiprocess

        if self.directory is None:
            return
        with self._lock:
            try:
                multiprocess.mark_process_dead(pid, self.directory)
                fold_into_archive(self.directory, pid)
            except Exception:
                logger.exception("Could not fold the metrics of worker process %d", pid)

    def close(self) -> None:
        """Remove the directory; the server thread ends with the process."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
            self.directory = None
