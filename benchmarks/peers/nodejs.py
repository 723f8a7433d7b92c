"""The Node.js side of the pg-boss and BullMQ adapters: where it is, and a client process.

Their scripts and pinned packages are in ``benchmarks/peers/node/`` (``npm ci`` there installs
them; ``make bench`` does when npm is present). An adapter drives its tool's client script
(``<tool>-client.mjs``) through one long-lived process, one JSON request and reply per line, so
that each ``enqueue`` is one call of the tool's API from Node, plus one round trip over a pipe.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .base import LOGS, ROOT, Adapter

NODE_DIR = ROOT / "benchmarks" / "peers" / "node"


def node() -> str | None:
    """The ``node`` executable on ``PATH``, or ``None``."""
    return shutil.which("node")


def missing(package: str) -> str | None:
    """Why the Node peers cannot run (no ``node``, ``package`` not installed), or ``None``."""
    if node() is None:
        return "node is not installed (Node 20 or later and npm; see benchmarks/README.md)"
    if not (NODE_DIR / "node_modules" / package / "package.json").exists():
        return f"{package} is not installed: run `npm ci` in {NODE_DIR.relative_to(ROOT)}"
    return None


def package_version(package: str) -> str:
    """The installed version of a package in ``node/node_modules``."""
    manifest = NODE_DIR / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])


def script(name: str) -> list[str]:
    """The command line that runs ``node/<name>`` (arguments follow)."""
    return [node() or "node", str(NODE_DIR / name)]


class Client:
    """One ``node <script>`` process serving requests on its stdin, started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: subprocess.Popen[str] | None = None

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and return its result; raise ``RuntimeError`` with Node's error."""
        proc = self.process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited ({proc.poll()}); see {self.log}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name} {op}: {reply['error']}")
        return reply["ok"]

    @property
    def log(self) -> Path:
        return LOGS / f"{Path(self.name).stem}.log"

    def process(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            LOGS.mkdir(parents=True, exist_ok=True)
            with open(self.log, "ab") as err:
                self.proc = subprocess.Popen(
                    script(self.name),
                    cwd=NODE_DIR,
                    env=os.environ.copy(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    bufsize=1,
                )
        return self.proc


class NodeAdapter(Adapter):
    """A peer driven through two Node scripts: ``client_script``, a long-lived process that
    enqueues (``send``, ``insert``), and ``worker_script``, the worker command."""

    client_script = ""
    worker_script = ""

    def __init__(self) -> None:
        self.client = Client(self.client_script)

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        self.client.call("send", kind=kind, queue=queue, key=key)

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        for start in range(0, count, 1000):
            self.client.call("insert", kind=kind, queue=queue, count=min(1000, count - start))

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        args = [*script(self.worker_script), f"--concurrency={concurrency}"]
        return args + (["--burst"] if burst else [])
