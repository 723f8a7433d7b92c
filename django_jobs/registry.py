"""The task registry: which dotted paths name tasks, and what the worker calls for them.

A job stores its task as a dotted path (``"app.jobs.send_welcome"``) and the worker looks it up
again, so a row is only as safe as that look-up. Only tasks run:

- ``@django_jobs.job`` tasks, registered under their path when they are decorated;
- tasks of a kind an adapter registered at start-up (``register_task_kind``): the
  ``django.tasks`` backend registers ``django.tasks`` ``Task`` objects;
- plain module-level functions defined in a module listed in ``DJANGO_JOBS["TASK_MODULES"]``.

Anything else is refused with ``UnknownTaskError``, and a module is imported to look a path up
only if it lies inside an installed app's package or ``TASK_MODULES``: a row naming
``os.system`` is refused without importing or calling anything. ``load`` is the one task loader
(enqueue, the scheduler, the backend and the worker all use it); ``resolve`` is the worker's view.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .exceptions import InvalidJobOptionsError, InvalidTaskError, UnknownTaskError
from .validation import check_module_prefixes, check_task_path

HOW_TO_REGISTER = (
    "Only registered tasks run: decorate the function with @django_jobs.job (or django.tasks' "
    "@task), or list its module in DJANGO_JOBS['TASK_MODULES'] to let plain functions there run."
)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """What the worker calls for a task path.

    ``make_context``, when set, builds the first argument from the claimed ``Job``: a
    ``JobContext`` for ``@job(takes_context=True)``, a ``TaskContext`` for ``django.tasks``.
    """

    func: Callable[..., Any]
    make_context: Callable[[Any], Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TaskKind:
    """Objects an adapter runs as tasks: those ``matches`` accepts, with their context builder.

    ``make_context(job)`` builds the first argument of a task of this kind whose
    ``takes_context`` is true. The callable run is the object's ``func``.
    """

    name: str
    matches: Callable[[Any], bool]
    make_context: Callable[[Any], Any]


_tasks: dict[str, Any] = {}
_kinds: dict[str, TaskKind] = {}


def register(path: str, task: Any) -> None:
    """Register ``task`` (a ``django_jobs.Task``) under dotted ``path``; ``@job`` calls this.

    Registering a path again replaces the task (a reloaded module).
    """
    _tasks[path] = task
    clear_cache()


def register_task_kind(
    name: str, matches: Callable[[Any], bool], make_context: Callable[[Any], Any]
) -> None:
    """Let objects that ``matches`` accepts run as tasks; adapters call this at start-up.

    ``name`` identifies the kind: registering it again replaces it. ``django_jobs.backends``
    registers ``django.tasks`` tasks from ``DjangoJobsConfig.ready()``, so the core never
    imports an adapter.
    """
    _kinds[name] = TaskKind(name=name, matches=matches, make_context=make_context)
    clear_cache()


def registered_tasks() -> dict[str, Any]:
    """Return the ``@job`` tasks registered so far, by path (those of imported modules)."""
    return dict(_tasks)


def kind_of(obj: Any) -> TaskKind | None:
    """Return the registered kind ``obj`` is a task of, or ``None``."""
    return next((kind for kind in _kinds.values() if kind.matches(obj)), None)


def task_path(func: Callable[..., Any]) -> str:
    """Return the dotted path under which ``func`` can be imported again.

    Raises ``InvalidTaskError`` when ``func`` is a lambda, a nested function, a method, or anything
    that importing its module and looking up its name would not give back.
    """
    path = module_level_path(func)
    try:
        found = import_string(path)
    except ImportError as exc:
        raise InvalidTaskError(f"{path} cannot be imported back ({exc}).") from exc
    if _unwrap(found) is not _unwrap(func):
        raise InvalidTaskError(
            f"{path} names another object than the function given; tasks must be reachable by "
            "their module and name."
        )
    return path


def module_level_path(func: Callable[..., Any]) -> str:
    """Return ``module.name`` of ``func`` without importing anything; raise if not module-level.

    Raises ``InvalidTaskError`` for a lambda, a nested function, a method or a ``__main__``
    function: a worker could not import those.
    """
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not callable(func) or not module or not qualname:
        raise InvalidTaskError(f"{func!r} is not a function; tasks are module-level functions.")
    if "<" in qualname or "." in qualname or module == "__main__":
        raise InvalidTaskError(
            f"{module}.{qualname} is not a module-level function of an importable module, so a "
            "worker could not import it. Define the task at the top level of a module."
        )
    return f"{module}.{qualname}"


@functools.lru_cache(maxsize=1024)
def load(path: str) -> Any:
    """Return the task at dotted ``path``: a ``@job`` task, a task of a registered kind, or an
    allowed plain function. The one task loader.

    Imports ``path``'s module, if it is not imported yet, only if it lies inside an installed
    app's package or ``DJANGO_JOBS["TASK_MODULES"]``. Raises ``UnknownTaskError``, saying why,
    for a path that is malformed, does not import, or names anything but a task. Successful
    look-ups are cached until a task or kind is registered or a setting changes; failures are
    not cached.
    """
    try:
        check_task_path(path)
    except InvalidJobOptionsError as exc:
        raise UnknownTaskError(f"{exc} {HOW_TO_REGISTER}") from None
    if path in _tasks:
        return _tasks[path]
    module_name, _, name = path.rpartition(".")
    module = _module(path, module_name)
    if path in _tasks:  # the import just registered it
        return _tasks[path]
    found = getattr(module, name, None)
    if found is None:
        raise UnknownTaskError(
            f"No task at {path!r}: module {module_name!r} has no {name!r}. Check the spelling, "
            "and that the worker runs the same code as the enqueuer."
        )
    if _is_registered(found) or kind_of(found) is not None or _is_allowed_function(found):
        return found
    raise UnknownTaskError(
        f"{path!r} names {_describe(found)}, which is not a registered task. {HOW_TO_REGISTER}"
    )


@functools.lru_cache(maxsize=1024)
def resolve(path: str) -> Target:
    """Return what the worker should call for the task at dotted ``path``.

    Raises ``UnknownTaskError`` as ``load`` does (the worker dead-letters such a job at once).
    Cached as ``load`` is: a worker never reloads code.
    """
    found = load(path)
    func = _unwrap(found)
    if not getattr(found, "takes_context", False) or found is func:
        return Target(func=func)
    kind = kind_of(found)
    if kind is not None:
        return Target(func=func, make_context=kind.make_context)
    from .context import JobContext

    return Target(func=func, make_context=JobContext.for_job)


def _module(path: str, module_name: str) -> Any:
    # Looking a name up in a module that is imported already runs no code of the row's choosing;
    # importing one does, so only modules of installed apps and TASK_MODULES are imported.
    module = sys.modules.get(module_name)
    # A module another thread is still importing is in sys.modules half-built, its @job tasks not
    # all registered yet: import_module then waits on the module's import lock for the rest.
    initialising = getattr(getattr(module, "__spec__", None), "_initializing", False)
    if module is not None and not initialising:
        return module
    if not may_import(module_name):
        raise UnknownTaskError(
            f"{path!r} is not a registered task, and its module {module_name!r} is neither in an "
            "installed app nor in DJANGO_JOBS['TASK_MODULES'], so it was not imported. "
            f"{HOW_TO_REGISTER}"
        )
    try:
        return import_module(module_name)
    except ImportError as exc:
        raise UnknownTaskError(
            f"No task at {path!r} ({exc}). Check the spelling, that its module imports without "
            "error on the worker, and that the worker runs the same code as the enqueuer."
        ) from exc


def may_import(module_name: str) -> bool:
    """Return whether a look-up may import ``module_name``: in an installed app or TASK_MODULES.

    A module lies inside a package when it equals its name or starts with its name and a dot.
    """
    app_names = [config.name for config in apps.get_app_configs()] if apps.apps_ready else []
    return _within(module_name, app_names) or _within(module_name, task_modules())


def task_modules() -> tuple[str, ...]:
    """Return ``DJANGO_JOBS["TASK_MODULES"]``; an invalid value (check E011) allows nothing."""
    from .conf import jobs_settings

    try:
        return check_module_prefixes(jobs_settings.TASK_MODULES)
    except InvalidJobOptionsError:
        return ()


def clear_cache() -> None:
    """Forget cached look-ups: after a registration or a change of settings."""
    load.cache_clear()
    resolve.cache_clear()


@receiver(setting_changed)
def _clear_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DJANGO_JOBS", "INSTALLED_APPS"):
        clear_cache()


def is_coroutine(func: Callable[..., Any]) -> bool:
    """Return whether calling ``func`` gives a coroutine to await."""
    return inspect.iscoroutinefunction(func)


def _within(module_name: str, packages: Any) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in packages)


def _is_registered(obj: Any) -> bool:
    # A @job task reached through another module (re-exported) is still the registered object.
    func = getattr(obj, "func", None)
    path = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"
    return _tasks.get(path) is obj


def _is_allowed_function(obj: Any) -> bool:
    # Where the function was defined counts, not where it was found: a TASK_MODULES module that
    # imports shutil.rmtree does not make rmtree a task.
    return inspect.isfunction(obj) and _within(obj.__module__, task_modules())


def _describe(obj: Any) -> str:
    if inspect.isfunction(obj):
        return f"a plain function of {obj.__module__}"
    return f"{type(obj).__name__} {obj!r:.60}"


def _unwrap(obj: Any) -> Any:
    # @job and django.tasks' @task both keep the function in ``func``.
    func = getattr(obj, "func", None)
    return func if callable(func) else obj
