from django.conf import settings
from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=20)
    total = models.DecimalField(max_digits=10, decimal_places=2)


class Export(models.Model):
    """One user's request for a CSV of the orders, and the job that writes it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)
    job_id = models.BigIntegerField(null=True, unique=True)

    def __str__(self):
        return f"Export {self.pk} of {self.owner}"
