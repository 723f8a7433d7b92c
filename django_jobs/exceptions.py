"""The errors django-jobs raises, and the ones task code raises to steer it."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class DjangoJobsError(Exception):
    """Base class of every error django-jobs defines."""


class InvalidTaskError(DjangoJobsError, TypeError):
    """The callable cannot be a task: not a module-level function, or not importable by its path."""


class UnknownTaskError(DjangoJobsError, LookupError):
    """A dotted task path does not name an importable callable."""


class SerializationError(DjangoJobsError, TypeError):
    """An argument or a return value is not JSON-serialisable."""


class InvalidJobOptionsError(DjangoJobsError, ValueError):
    """A job option is out of range: queue, priority, run_at, max_attempts or timeout."""


class JobNotFoundError(DjangoJobsError, LookupError):
    """No job, live or dead, has the given id."""


class ReplayConflictError(DjangoJobsError, ValueError):
    """A dead job cannot be replayed because its idempotency key belongs to a live job."""


class ConfigurationError(DjangoJobsError, ImproperlyConfigured):
    """The DJANGO_JOBS setting holds a value django-jobs cannot use."""


class PermanentError(DjangoJobsError):
    """Raised by task code to dead-letter its job at once, with no further attempts."""


class SnoozeLimitError(DjangoJobsError):
    """Recorded when a job snoozed again after ``MAX_SNOOZES`` snoozes: the attempt failed."""


class JobTimeoutError(DjangoJobsError):
    """Recorded when a job ran past its ``timeout_seconds``."""


class WorkerLostError(DjangoJobsError):
    """Recorded when a job's lease expired because its worker died, hung or lost the database."""


class OpenTransactionError(DjangoJobsError):
    """Recorded when a task returned with a transaction still open; its writes were rolled back."""


class WorkerStoppedError(DjangoJobsError):
    """Recorded when a job still ran when its worker's shutdown grace period ended."""


class ResultStorageError(DjangoJobsError):
    """Recorded when the database refused to store a job's outcome (the error says why)."""


class JobCancelled(DjangoJobsError):
    """Raised by task code to stop its job as cancelled: no retry, no dead letter.

    ``JobContext.check_cancelled()`` and ``django_jobs.check_cancelled()`` raise it once a cancel
    was requested; a task may also raise it of its own accord.
    """
