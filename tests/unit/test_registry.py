"""The task registry: only tasks resolve, and a look-up imports only modules it may."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from django_jobs import job, registry
from django_jobs.exceptions import UnknownTaskError
from tests import plain_tasks, tasks


def jobs_settings(**extra):
    return override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **extra})


@pytest.fixture
def outside_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package ``outsider`` (no installed app) that leaves a file when imported."""
    package = tmp_path / "outsider"
    package.mkdir()
    marker = tmp_path / "imported"
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef run(a, b):\n    return a + b\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    for name in ("outsider", "outsider.jobs"):
        sys.modules.pop(name, None)
    registry.clear_cache()


def test_job_registers_its_task_under_its_path_when_decorated():
    assert registry.registered_tasks()["tests.tasks.add"] is tasks.add
    assert registry.load("tests.tasks.add") is tasks.add


@pytest.mark.parametrize(
    "path",
    [
        "os.system",
        "subprocess.getoutput",
        "builtins.eval",
        "shutil.rmtree",
        "django.core.management.call_command",
        "tests.tasks.undecorated_add",  # a plain function of an installed app: not enough
        "tests.plain_tasks.shutil",  # a module found in a task module
    ],
)
def test_a_row_naming_anything_but_a_task_is_refused_with_the_reason(path):
    with pytest.raises(UnknownTaskError, match="not a registered task") as info:
        registry.resolve(path)
    assert "@django_jobs.job" in str(info.value) and "TASK_MODULES" in str(info.value)


def test_a_module_outside_installed_apps_is_never_imported(outside_module: Path):
    with pytest.raises(UnknownTaskError, match="so it was not imported"):
        registry.resolve("outsider.jobs.run")
    assert "outsider.jobs" not in sys.modules
    assert not outside_module.exists()


def test_task_modules_let_plain_functions_of_the_module_and_its_submodules_run(outside_module):
    with jobs_settings(TASK_MODULES=["outsider"]):
        target = registry.resolve("outsider.jobs.run")
    assert target.func(1, 2) == 3 and target.make_context is None
    assert outside_module.exists()


def test_a_task_module_prefix_matches_whole_module_names_only(outside_module: Path):
    with jobs_settings(TASK_MODULES=["outside"]), pytest.raises(UnknownTaskError):
        registry.resolve("outsider.jobs.run")
    assert not outside_module.exists()


def test_a_function_imported_into_a_task_module_is_not_its_task():
    # tests.plain_tasks imports shutil; shutil.rmtree reached through it is still shutil's.
    plain_tasks.rmtree = __import__("shutil").rmtree
    try:
        with pytest.raises(UnknownTaskError, match="plain function of shutil"):
            registry.resolve("tests.plain_tasks.rmtree")
    finally:
        del plain_tasks.rmtree


def test_a_plain_function_of_a_task_module_resolves():
    assert registry.resolve("tests.plain_tasks.plain_add").func is plain_tasks.plain_add


def test_task_modules_changes_are_seen_at_once():
    assert registry.load("tests.plain_tasks.plain_add") is plain_tasks.plain_add
    with jobs_settings(TASK_MODULES=[]), pytest.raises(UnknownTaskError):
        registry.load("tests.plain_tasks.plain_add")


@pytest.mark.parametrize("path", ["", "x", "a..b", "a.b c", "a." * 200 + "b", 42])
def test_a_malformed_path_is_refused(path):
    with pytest.raises(UnknownTaskError):
        registry.resolve(path)


def test_a_job_task_with_context_gets_a_job_context():
    from django_jobs.context import JobContext

    assert registry.resolve("tests.tasks.reports_progress").make_context == JobContext.for_job


def test_an_adapter_registers_a_kind_of_task_with_its_context():
    class Foreign:
        takes_context = True

        @staticmethod
        def func(context, x):
            return (context, x)

    plain_tasks.foreign = Foreign()
    try:
        with pytest.raises(UnknownTaskError):
            registry.resolve("tests.plain_tasks.foreign")
        registry.register_task_kind("foreign", lambda o: isinstance(o, Foreign), lambda job: "ctx")
        target = registry.resolve("tests.plain_tasks.foreign")
        assert target.func("c", 1) == ("c", 1) and target.make_context(None) == "ctx"
    finally:
        registry._kinds.pop("foreign", None)
        registry.clear_cache()
        del plain_tasks.foreign


def test_the_django_tasks_backend_registers_its_kind_at_start_up():
    pytest.importorskip("django_jobs.backends.compat")
    from tests import tasks_django

    kind = registry.kind_of(tasks_django.add)
    assert kind is not None and kind.name == "django.tasks"


def test_a_nested_job_is_callable_but_not_registered():
    @job
    def nested() -> int:
        return 1

    assert nested() == 1
    assert not any(task is nested for task in registry.registered_tasks().values())
