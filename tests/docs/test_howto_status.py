"""The status how-to's example project works as the page says: its files are the page's."""

from __future__ import annotations

from pathlib import Path

from .pages import DOCS, page_blocks
from .projects import project_copy, run_python

PAGE = "howto/status-and-progress.md"
PROJECT = Path(__file__).resolve().parent / "status"


def test_every_file_and_marker_the_status_how_to_includes_exists():
    included = [block for block in page_blocks(PAGE) if block.include_path]
    assert {Path(block.include_path).name for block in included} >= {
        "models.py",
        "jobs.py",
        "views.py",
        "urls.py",
        "permissions.py",
        "export.html",
    }
    for block in included:
        source = (DOCS / "howto" / block.include_path).resolve()
        assert source.is_file() and source.is_relative_to(PROJECT), source
        marker = block.option("start-after")
        assert marker is None or marker in source.read_text(), (marker, source)


def test_the_status_example_refuses_strangers_and_reports_progress_to_its_owner(
    tmp_path, django_db_blocker
):
    with project_copy(PROJECT, tmp_path / "status", django_db_blocker) as env:
        done = run_python(tmp_path / "status", env, "check.py")
    assert done.returncode == 0, done.stderr
