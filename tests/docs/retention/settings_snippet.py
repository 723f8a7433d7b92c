DAY = 86_400

DJANGO_JOBS = {
    "DONE_RETENTION_SECONDS": 3 * DAY,  # done jobs: three days after they finished
    "CANCELLED_RETENTION_SECONDS": 1 * DAY,
    "DEAD_RETENTION_SECONDS": 90 * DAY,  # None (the default) keeps dead jobs forever
    "SCHEDULE_RUN_RETENTION_SECONDS": 30 * DAY,
    "PRUNE_INTERVAL_SECONDS": 300,  # the leader prunes every five minutes
}
