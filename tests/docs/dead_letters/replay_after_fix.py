from django_jobs.engine import replay
from django_jobs.models import DeadJob

dead = DeadJob.objects.filter(
    task_path="shop.jobs.sync_inventory",
    exception_class="builtins.KeyError",
    replayed_at=None,
)
new_jobs = replay(dead, by="deploy-2024-06-01")  # one transaction; raises ReplayConflictError
