"""``manage.py jobs``: the operator's command; each subcommand lives in ``django_jobs.cli``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_jobs import cli


class Command(BaseCommand):
    help = "Inspect and operate django-jobs queues: see `manage.py jobs SUBCOMMAND --help`."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        for module in cli.SUBCOMMANDS:
            sub = subcommands.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
            sub.add_argument(
                "--json", action="store_true", help="Print one JSON document instead of tables."
            )
            module.add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        module = next(m for m in cli.SUBCOMMANDS if options["subcommand"] == m.NAME)
        # rich writes whole lines itself: stop Django's wrappers adding a newline to each chunk.
        self.stdout.ending = self.stderr.ending = ""
        out = cli.Output(self.stdout, self.stderr, as_json=options["json"])
        code = module.run(options, out)
        if code != cli.EXIT_OK:
            sys.exit(code)
