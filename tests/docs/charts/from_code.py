# The charts' data from code (python manage.py shell), e.g. for an alert of your own.
# docs: begin read
from django_jobs import rollups

hour = rollups.last_hour()
for queue in hour.queues:
    done, failed = sum(queue.done), sum(queue.failed)
    p95 = queue.pickup_p95_seconds[-1]  # this minute so far; None if no job started yet
    print(f"{queue.queue}: {done} done, {failed} failed in the last hour; pickup p95 now {p95}")
# docs: end read

# docs: begin prune
from django.utils import timezone

deleted = rollups.prune_rollups(timezone.now() - rollups.KEEP)  # minutes older than 7 days
# docs: end prune
