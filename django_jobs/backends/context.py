"""Build the ``django.tasks`` ``TaskContext`` a claimed job's task receives."""

from __future__ import annotations

from typing import Any


def django_task_context(job: Any) -> Any:
    """Return the ``TaskContext`` a ``takes_context`` django task receives for ``job``."""
    raise NotImplementedError("The django.tasks backend is not written yet.")
