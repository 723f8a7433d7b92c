# settings.py
DJANGO_JOBS = {
    # ... the keys you already have, such as "QUEUES" ...
    "SCHEDULES": {
        "prune-finished-jobs": {
            "task": "shop.jobs.prune_finished_jobs",
            "cron": "15 4 * * *",
            "timezone": "UTC",
        },
    },
}
