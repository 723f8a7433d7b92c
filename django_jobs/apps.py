from django.apps import AppConfig


class DjangoJobsConfig(AppConfig):
    name = "django_jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .backends import checks as tasks_checks  # noqa: F401  (django.tasks backend)
        from .backends import (
            receivers,  # noqa: F401  (django.tasks signals for django tasks)
            registration,
        )
        from .scheduler import checks as _  # noqa: F401  (registers the schedule checks)

        # The core takes adapters' registrations; it never imports them itself.
        registration.register()
