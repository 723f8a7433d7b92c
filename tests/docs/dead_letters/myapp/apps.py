# myapp/apps.py
import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def alert(sender, job, dead_job, **kwargs):
    logger.error("Job %s (%s) is dead: %s", dead_job.job_id, dead_job.task_path, dead_job.message)


class MyAppConfig(AppConfig):
    name = "myapp"

    def ready(self):
        from django_jobs.signals import job_dead_lettered

        job_dead_lettered.connect(alert, dispatch_uid="myapp.alert_dead_job")
