# shop/reindex.py
import time

from django.tasks import task

import django_jobs


@task
def rebuild_search_index(documents):
    for first in range(0, documents, 100):
        django_jobs.check_cancelled()  # raises JobCancelled once the job was asked to stop
        time.sleep(0.01)  # stands in for indexing documents first..first + 99
    return documents
