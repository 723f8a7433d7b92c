"""``Failure``: what is recorded of one failed attempt, in ``Job.errors`` and on a ``DeadJob``."""

from __future__ import annotations

import dataclasses
import traceback as tb
from datetime import datetime
from typing import Any

from django.utils import timezone

MESSAGE_MAX_LENGTH = 2000
TRACEBACK_MAX_LENGTH = 20_000


def storable_text(text: str) -> str:
    r"""Return ``text`` with what PostgreSQL text and jsonb refuse written out as escapes.

    NUL characters and lone surrogates (which ``str()`` of hostile data may hold) would make
    the whole write fail; they become ``\x00`` and ``\udXXX``, so the rest of the record
    survives and the reader still sees where they were.

    >>> storable_text("bad\x00bytes\ud800")
    'bad\\x00bytes\\ud800'
    """
    if text.isascii() and "\x00" not in text:
        return text
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(exc: BaseException) -> tuple[str, str]:
    # Task code owns the exception, and with it __str__ and __repr__: either may raise.
    try:
        message = str(exc)
    except Exception as err:
        message = f"<str() of the exception raised {type(err).__name__}>"
    try:
        trace = "".join(tb.format_exception(exc))
    except Exception as err:
        trace = f"<the traceback could not be formatted: {type(err).__name__}>"
    return message, trace


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: the exception's class path, message and traceback, when and where.

    ``worker_id`` names the worker that ran the attempt; ``""`` when unknown. Every text field
    is storable (see ``storable_text``) and bounded in length.
    """

    attempt: int
    exception_class: str
    message: str
    traceback: str
    failed_at: datetime
    worker_id: str = ""

    @classmethod
    def from_exception(
        cls, exc: BaseException, *, attempt: int, now: datetime | None = None, worker_id: str = ""
    ) -> Failure:
        """Describe ``exc`` (with its traceback) as the failure of attempt number ``attempt``.

        Never raises for the exception's sake: a ``__str__`` that raises gives a placeholder.
        """
        kind = type(exc)
        message, trace = _describe(exc)
        if len(trace) > TRACEBACK_MAX_LENGTH:  # keep the end: the frame that raised
            trace = "...\n" + trace[-TRACEBACK_MAX_LENGTH:]
        return cls(
            attempt=attempt,
            exception_class=storable_text(f"{kind.__module__}.{kind.__qualname__}")[:255],
            message=storable_text(message[:MESSAGE_MAX_LENGTH]),
            traceback=storable_text(trace),
            failed_at=now or timezone.now(),
            worker_id=worker_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape stored in ``Job.errors``."""
        return {
            "attempt": self.attempt,
            "exception_class": self.exception_class,
            "message": self.message,
            "traceback": self.traceback,
            "failed_at": self.failed_at.isoformat(),
            "worker_id": self.worker_id,
        }
