"""The subcommands of ``manage.py jobs``, one module each.

Each module in ``SUBCOMMANDS`` provides:

- ``NAME`` (the word after ``jobs``) and ``HELP`` (one line for ``jobs --help``); its docstring is
  the subcommand's ``--help`` description;
- ``add_arguments(parser)``: its own options (``--json`` is added for every subcommand);
- ``run(options, out) -> int``: do the work, print through ``out`` (an ``Output``) and return the
  exit status: ``EXIT_OK``, ``EXIT_PROBLEM`` (something was found wrong: unhealthy queue, a
  doctor finding) or ``EXIT_USAGE`` (bad input, said through ``out.error``). Bad input is
  reported before any SQL runs.

``manage.py jobs`` (``management/commands/jobs.py``) only dispatches to these.
"""

from __future__ import annotations

from types import ModuleType

from . import cancel, doctor, health, listing, pause, prune, replay, resume, show, stats, update
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

#: The subcommand modules, in the order ``jobs --help`` lists them.
SUBCOMMANDS: list[ModuleType] = [
    stats,
    listing,
    show,
    cancel,
    update,
    replay,
    pause,
    resume,
    prune,
    health,
    doctor,
]

__all__ = ["EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE", "SUBCOMMANDS", "Output"]
