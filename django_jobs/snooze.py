"""``Snooze``: what a task raises or returns to run its job again later, no attempt used."""

from __future__ import annotations

from .exceptions import DjangoJobsError
from .validation import check_snooze_seconds


class Snooze(DjangoJobsError):
    """Raised (or returned) by task code to run its job again ``seconds`` later, no attempt used.

    The job goes back to the queue with ``run_at`` = now + ``seconds``; the attempt it was charged
    at start is given back and its ``snoozes`` count grows by one. Past
    ``DJANGO_JOBS["MAX_SNOOZES"]`` snoozes the attempt fails with ``SnoozeLimitError`` instead.
    ``seconds`` is a finite number in 0..30 days; anything else raises
    ``InvalidJobOptionsError`` here, in the task, which then fails as any error would.
    Oban's ``{:snooze, seconds}`` return value is the model.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = check_snooze_seconds(seconds)
        super().__init__(f"snooze for {self.seconds:g}s")

    def __reduce__(self) -> tuple[type[Snooze], tuple[float]]:
        return type(self), (self.seconds,)
