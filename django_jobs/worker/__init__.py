"""The worker: claim ready jobs, run them, record each outcome under a lease."""

from .runner import Worker

__all__ = ["Worker"]
