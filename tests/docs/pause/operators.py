# python manage.py shell
from django.contrib.auth.models import Group, Permission

operators, _ = Group.objects.get_or_create(name="Job operators")
operators.permissions.add(
    Permission.objects.get(content_type__app_label="django_jobs", codename="pause_queue")
)
