"""A task module imported by several slot threads at once registers every task for all of them."""

import sys
import threading

from django_jobs import registry

MODULE = "tests.slow_import_tasks"


def test_threads_resolving_tasks_of_a_module_being_imported_all_find_them():
    sys.modules.pop(MODULE, None)
    registry.clear_cache()
    barrier = threading.Barrier(8)
    found: list[object] = []

    def look_up(name: str) -> None:
        barrier.wait(10)
        try:
            found.append(registry.resolve(f"{MODULE}.{name}").func.__name__)
        except Exception as exc:
            found.append(exc)

    names = ["first", "last"] * 4
    threads = [threading.Thread(target=look_up, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, found)) == sorted(names), found
