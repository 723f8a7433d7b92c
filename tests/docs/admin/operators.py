# python manage.py shell
from django.contrib.auth.models import Group, Permission

operators, _ = Group.objects.get_or_create(name="Job operators")
operators.permissions.set(
    Permission.objects.filter(
        content_type__app_label="django_jobs",
        codename__in=["view_job", "view_deadjob", "cancel_job", "run_now_job", "replay_deadjob"],
    )
)
