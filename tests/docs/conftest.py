# The example projects the pages include (quickstart/, status/) are run in copies, as their readers
# would run them, never imported into the test process (their modules would register tasks and
# models and shadow settings). The how-tos' shell snippets (admin/, ...) run on the test database
# through runpy, as ``manage.py shell`` would run them; importing them would run their queries.
collect_ignore = ["quickstart", "status", "admin"]
