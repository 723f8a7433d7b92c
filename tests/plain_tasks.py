"""Plain (undecorated) functions that run as tasks because tests/settings.py lists this module in
``DJANGO_JOBS["TASK_MODULES"]``. The plain functions of ``tests.tasks`` are not listed, so they
are refused."""

import shutil  # noqa: F401  (imported here, defined elsewhere: never a task of this module)


def plain_add(a: int, b: int) -> int:
    return a + b
