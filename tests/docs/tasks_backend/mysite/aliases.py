# settings.py
TASKS = {
    "default": {
        "BACKEND": "django_jobs.backends.JobsBackend",
        "QUEUES": ["default", "mail"],
        "OPTIONS": {"MAX_ATTEMPTS": 5},
    },
    "patient": {
        "BACKEND": "django_jobs.backends.JobsBackend",
        "QUEUES": ["default", "mail"],  # each alias allows its own queues
        "OPTIONS": {"MAX_ATTEMPTS": 10, "TIMEOUT_SECONDS": 60},
    },
}
