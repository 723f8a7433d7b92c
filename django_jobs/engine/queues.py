"""``queue_limits``: the queues of ``DJANGO_JOBS["QUEUES"]`` that carry a limit.

Read by both claims: the plain one excludes these queues, ``claim_limited`` enforces them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from .. import validation
from ..conf import jobs_settings
from ..exceptions import InvalidJobOptionsError


def queue_limits() -> Mapping[str, validation.QueueLimits]:
    """Return the queues of ``DJANGO_JOBS["QUEUES"]`` that have a limit, with their limits.

    ``QUEUES`` as None or a list (no options) gives ``{}``. Read when ``DJANGO_JOBS`` is first
    used and cached until it changes; a bad value is a system check (E080-E084) and counts as
    no limit here.
    """
    return _queue_limits()


@functools.cache
def limited_queues() -> tuple[str, ...]:
    """Return the names of the queues with a limit, sorted (the plain claim excludes them)."""
    return tuple(sorted(queue_limits()))


@functools.cache
def _queue_limits() -> dict[str, validation.QueueLimits]:
    configured = jobs_settings.QUEUES
    if not isinstance(configured, Mapping):
        return {}
    found = {}
    for queue, options in configured.items():
        try:
            limits = validation.check_queue_options(str(queue), options)
        except InvalidJobOptionsError:
            continue
        if limits != validation.QueueLimits():
            found[str(queue)] = limits
    return found


@receiver(setting_changed)
def _forget_limits(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_JOBS":
        _queue_limits.cache_clear()
        limited_queues.cache_clear()
