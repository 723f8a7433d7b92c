"""``Finding``: what one doctor check found, at one ``Level``, with what to do about it."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class Level(enum.StrEnum):
    """How bad a finding is. Only ``PROBLEM`` makes ``manage.py jobs doctor`` exit 1.

    ``SKIPPED``: the check does not apply here (a PostgreSQL-only check on SQLite, or the
    database could not be reached for it).
    """

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    SKIPPED = "skipped"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One result of a check: ``check`` is the check's ``NAME``; ``title`` one line; ``detail``
    the figures behind it; ``action`` what to do (empty when nothing needs doing)."""

    check: str
    level: Level
    title: str
    detail: str = ""
    action: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready dict (``level`` as its string)."""
        return {**dataclasses.asdict(self), "level": str(self.level)}


def ok(check: str, title: str, detail: str = "") -> Finding:
    """Return a finding that nothing needs doing about."""
    return Finding(check, Level.OK, title, detail)


def warning(check: str, title: str, detail: str, action: str) -> Finding:
    """Return a finding worth acting on soon; it does not fail the command."""
    return Finding(check, Level.WARNING, title, detail, action)


def problem(check: str, title: str, detail: str, action: str) -> Finding:
    """Return a finding that needs fixing; ``jobs doctor`` exits 1."""
    return Finding(check, Level.PROBLEM, title, detail, action)
