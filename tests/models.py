"""Business tables for tests: an order to commit or roll back with a job, and a run log."""

from django.db import models


class Order(models.Model):
    reference = models.CharField(max_length=50)


class Execution(models.Model):
    """One row per run of a test task, so tests can count runs per key (no unique constraint)."""

    key = models.CharField(max_length=100, db_index=True)
    attempt = models.PositiveIntegerField(default=0)
    worker_pid = models.IntegerField(default=0)
