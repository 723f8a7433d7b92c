DJANGO_JOBS = {
    "QUEUES": {
        "default": None,
        # At most two jobs of the "mail" queue run at once, across every worker.
        "mail": {"concurrency": 2},
    },
}
