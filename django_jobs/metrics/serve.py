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
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
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


class SupervisorMetrics:
    """The metrics of a ``--processes`` supervisor's children, served on one port.

    ``start()`` makes the directory, sets ``PROMETHEUS_MULTIPROC_DIR`` and starts the server;
    call it before starting any child. ``child_exited(pid)`` after each child's exit;
    ``close()`` at the end. Raises as ``serve_worker`` does.
    """

    def __init__(self, port: int, address: str = "0.0.0.0") -> None:
        self.port, self.address = port, address
        self.directory: str | None = None

    def start(self) -> int:
        """Serve the children's summed metrics; return the bound port."""
        prometheus = require_prometheus()
        from prometheus_client import multiprocess

        self.directory = tempfile.mkdtemp(prefix="django-jobs-metrics-")
        os.environ[MULTIPROC_ENV] = self.directory
        registry = prometheus.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.directory)
        return _start_server(self.port, self.address, registry)

    def child_exited(self, pid: int) -> None:
        """Forget child ``pid``'s live gauges (its counters and histograms stay in the sums)."""
        from prometheus_client import multiprocess

        if self.directory is not None:
            multiprocess.mark_process_dead(pid, self.directory)

    def close(self) -> None:
        """Remove the directory; the server thread ends with the process."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
            self.directory = None
