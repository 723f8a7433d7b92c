"""The task ``enqueue.py`` enqueues; import only after Django is set up."""

from __future__ import annotations

from typing import Any

from django_jobs import job


@job
def noop(*args: Any, **kwargs: Any) -> None:
    """Do nothing: only enqueueing is measured."""
