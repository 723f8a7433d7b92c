# myapp/jobs.py
from django_jobs import JobContext, Snooze, job

from .exports import export_ready  # your own check: is the file there yet?


@job(takes_context=True)
def publish_export(context: JobContext, export_id: int) -> str:
    if not export_ready(export_id):
        # Not an error: look again in 30 seconds, without using an attempt.
        raise Snooze(30)
    return f"published {export_id} after {context.snoozes} snoozes"


# One sync per account at a time, and none again within 10 minutes of the last one.
@job(unique_for=600)
def sync_account(account_id: int) -> None: ...


# Saves in a burst make one reindex, a minute after the last save, with the latest ids.
@job(debounce_seconds=60)
def reindex(document_ids: list[int]) -> None: ...
