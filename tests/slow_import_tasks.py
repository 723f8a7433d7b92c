"""Tasks in a module that takes a while to import: the first registers at once, the last late."""

import time

from django_jobs import job


@job
def first() -> str:
    return "first"


time.sleep(0.5)  # other threads look the tasks up while this module is half imported


@job
def last() -> str:
    return "last"
