DJANGO_JOBS = {
    "QUEUES": {
        "default": None,
        # At most 10 jobs of "sms" start in any one second.
        "sms": {"rate_limit": "10/s"},
        # Both limits at once: 4 running at most, and at most 600 starts in any minute.
        "partner-api": {"concurrency": 4, "rate_limit": "600/m"},
    },
}
