# shop/jobs.py
import time

import django_jobs
from django_jobs import JobCancelled, JobContext, job


@job(takes_context=True)
def export_orders(context: JobContext, order_ids: list[int]) -> dict:
    written = 0
    with open(f"/tmp/export-{context.job_id}.csv", "w") as out:  # closed when cancelled too
        for order_id in order_ids:
            context.check_cancelled()  # raises JobCancelled once asked; no query, poll freely
            out.write(f"{order_id}\n")
            written += 1
            time.sleep(0.01)  # stands in for the real work on each order
    return {"rows": written}


def index_batch(first: int, last: int) -> int:
    time.sleep(0.01)  # stands in for sending documents first..last to the search engine
    return last - first


@job
def rebuild_search_index(documents: int) -> int:
    indexed = 0
    for first in range(0, documents, 100):
        # Code with no context asks the same question of the job it runs for.
        if django_jobs.cancel_requested():
            raise JobCancelled(f"stopped after {indexed} documents")
        indexed += index_batch(first, min(first + 100, documents))
    return indexed
