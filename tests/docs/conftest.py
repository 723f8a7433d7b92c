# The example projects the pages include (quickstart/, status/) are run in copies, as their readers
# would run them, never imported into the test process (their modules would register tasks and
# models and shadow settings).
collect_ignore = ["quickstart", "status"]
