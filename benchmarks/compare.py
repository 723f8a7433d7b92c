"""Measure django-jobs beside pgqueuer, Procrastinate, django-tasks-db, pg-boss and BullMQ.

Usage (the database is created if missing and migrated; see benchmarks/README.md)::

    make bench                      # or: .venv/bin/python benchmarks/compare.py [--quick]
    make bench BENCH_ARGS="--quick --only pickup"

Every figure runs the same steps for every tool (``benchmarks/figures/``), each tool behind an
adapter of its public API and worker command (``benchmarks/peers/``); a peer this machine cannot
run (pg-boss and BullMQ without Node, BullMQ without Redis) is left out with a line saying why.
The table printed gives each tool's figure and django-jobs' ratio to the best peer and to
django-tasks-db; the same goes to ``benchmarks/results/latest.json``, the workers' logs to
``benchmarks/results/logs/``.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/django_jobs_compare"

sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bench_settings"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)


def byte_compile() -> None:
    """Write the .pyc files of this tree's Python code, as pip does for an installed package.

    django-jobs runs from an editable install, which pip does not byte-compile, and with
    ``PYTHONDONTWRITEBYTECODE`` set nothing writes them later: each worker process would then
    compile django_jobs at start (about 0.2 s here), which no peer installed from PyPI pays.
    """
    for package in ("django_jobs", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(exists, [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def environment(tools: list[Any]) -> dict[str, Any]:
    """Versions of everything and the machine's facts, printed above the table."""
    import django

    from benchmarks.peers.base import sql

    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": sql("SHOW server_version")[0][0],
        "psycopg": version("psycopg"),
        "asyncpg": version("asyncpg"),
        **{tool.key: tool.version() for tool in tools},
        "django_jobs_commit": run_text(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "pgbench": run_text(["pgbench", "--version"]),
        "cores": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.platform(),
    }


def run_text(command: list[str]) -> str:
    """The first line a command prints, or ``"unknown"`` if it cannot run."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


# The goals django-jobs set itself; reported, never asserted.
TARGETS: list[tuple[str, str, Any]] = [
    ("drain with 2 processes >= 10x django-tasks-db", "2 process",
     lambda row: (row.ratio("django_tasks_db") or 0) >= 10),
    ("pickup p50 < 5 ms", "p50, idle worker", lambda row: row.values["django_jobs"] < 5),
    ("pickup p99 < 25 ms", "p99, idle worker", lambda row: row.values["django_jobs"] < 25),
    ("enqueue one per transaction no slower than django-tasks-db", "one per transaction",
     lambda row: (row.ratio("django_tasks_db") or 0) >= 1),
    ("bulk enqueue >= 20,000 jobs/s", "bulk enqueue",
     lambda row: row.values["django_jobs"] >= 20_000),
    ("worker RSS growth < 10%", "growth, a tenth", lambda row: row.values["django_jobs"] < 10),
]  # fmt: skip


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("jobs/s", "tx/s"):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def fmt_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:,.{2 if ratio >= 0.1 else 4}f}x"


def report(env: dict[str, Any], rows: list[Any], tools: list[Any], options: Any) -> None:
    """Print the table and the targets met; write everything to ``results/latest.json``."""
    from rich.console import Console
    from rich.table import Table

    from benchmarks.peers.base import RESULTS

    console = Console(width=max(150, shutil.get_terminal_size().columns))
    table = Table(title="django-jobs and its peers (ratio: django-jobs / the other)")
    table.add_column("measurement")
    for tool in tools:
        table.add_column(tool.label, justify="right")
    table.add_column("vs best peer", justify="right")
    table.add_column("vs django-tasks-db", justify="right")
    notes: list[str] = []
    for row in rows:
        mark = ""
        if row.note:
            notes.append(row.note)
            mark = f" [{len(notes)}]"
        cells = [fmt(row.values.get(tool.key), row.unit) for tool in tools]
        best = row.best_peer()
        vs_best = fmt_ratio(row.ratio()) + (f" ({best[0]})" if best and row.ratio() else "")
        if "pgbench" in row.values:
            cells[0] = f"pgbench: {fmt(row.values['pgbench'], row.unit)}"
        table.add_row(f"{row.name} ({row.unit}){mark}", *cells, vs_best,
                      fmt_ratio(row.ratio("django_tasks_db")))  # fmt: skip
    console.print(table)
    for n, note in enumerate(notes, 1):
        console.print(f"[{n}] {note}", markup=False)
    console.print("Drains: jobs / (last finish - first start), from each tool's own rows.")
    checked = []
    for text, fragment, test in TARGETS:
        row = next((r for r in rows if fragment in r.name), None)
        if row is None:
            continue
        met = bool(test(row))
        checked.append({"target": text, "met": met})
        console.print(f"  [{'x' if met else ' '}] {text}", markup=False)
    env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    console.print(f"Load average at the start {env['load_average_start'][0]}, at the end "
                  f"{env['load_average_end'][0]}")  # fmt: skip
    data = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "options": {"quick": options.quick, "only": options.only, "size": options.size},
        "sizes": asdict(options.sizes),
        "environment": env,
        "settings": {tool.key: tool.settings for tool in tools},
        "rows": [{**asdict(row), "ratio_best_peer": row.ratio(), "best_peer": row.best_peer(),
                  "ratio_django_tasks_db": row.ratio("django_tasks_db")} for row in rows],
        "targets": checked,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "latest.json" if options.only is None else f"latest-{options.only}.json"
    (RESULTS / name).write_text(json.dumps(data, indent=2, default=str) + "\n")
    console.print(f"Written to {(RESULTS / name).relative_to(ROOT)}")


def main() -> None:
    from benchmarks.figures import FIGURES, QUICK, Sizes

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 10 minutes)")
    parser.add_argument("--only", choices=sorted(FIGURES), help="run this one figure")
    parser.add_argument(
        "--tools", help="comma-separated keys of the tools to run (default: all of them)"
    )
    parser.add_argument(
        "--size", action="append", default=[], metavar="NAME=N",
        help="override one size of figures.Sizes (e.g. drain=500), for trying things out",
    )  # fmt: skip
    options = parser.parse_args()
    sizes = QUICK if options.quick else Sizes()
    for item in options.size:
        name, _, value = item.partition("=")
        kind = type(getattr(sizes, name))
        sizes = dataclasses.replace(sizes, **{name: kind(value)})
    options.sizes = sizes
    byte_compile()

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database()
    call_command("migrate", verbosity=0)

    from benchmarks.peers import adapters
    from benchmarks.procs import BenchError

    tools = adapters()
    if options.tools:
        wanted = options.tools.split(",")
        tools = [t for t in tools if t.key in wanted or t.key == "django_jobs"]
    for tool in list(tools):  # a peer this machine cannot run is left out, never a failure
        reason = tool.unavailable()
        if reason:
            print(f"{tool.label} skipped: {reason}", flush=True)
            tools.remove(tool)
    for tool in tools:
        tool.setup()
    env = environment(tools)
    console_line = ", ".join(f"{k} {v}" for k, v in env.items() if k not in ("machine",))
    print(console_line, flush=True)
    rows, failed = [], []
    try:
        for name, figure in FIGURES.items():
            if options.only not in (None, name):
                continue
            print(f"{name}...", flush=True)
            try:
                found = figure(tools, options.sizes)
            except BenchError as exc:  # the other figures still run; the error is reported
                failed.append(f"{name}: {exc}")
                print(f"  failed: {exc}", flush=True)
                continue
            for row in found:
                rows.append(row)
                figures_ = ", ".join(f"{k} {fmt(v, row.unit)}" for k, v in row.values.items())
                print(f"  {row.name}: {figures_} {row.unit}", flush=True)
    finally:
        for tool in tools:
            tool.reset()
    env["failed"] = failed
    report(env, rows, tools, options)
    if failed:
        sys.exit("Benchmark figures failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
