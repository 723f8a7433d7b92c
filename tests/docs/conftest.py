# The example projects the pages include (quickstart/, status/, recurring/, tasks_backend/) are run
# in copies, as their readers would run them, never imported into the test process (their modules
# would register tasks and models and shadow settings). The how-tos' snippets (admin/,
# dead_letters/, charts/, pause/, cancel/) are run by their tests on the test database: shell
# snippets through runpy, as ``manage.py shell`` would run them, so collecting them (importing,
# for the doctests) would run their queries.
collect_ignore = [
    "quickstart",
    "status",
    "recurring",
    "tasks_backend",
    "admin",
    "dead_letters",
    "deploying",
    "charts",
    "operating",
    "pause",
    "cancel",
]
