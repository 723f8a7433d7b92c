TASKS = {
    "default": {
        "BACKEND": "django_jobs.backends.JobsBackend",  # was "django_tasks_db.DatabaseBackend"
        "QUEUES": ["default"],
    }
}
