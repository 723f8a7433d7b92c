# shop/reindex.py
import time

from django.tasks import task

import django_jobs


def index_documents(first, last):
    time.sleep(0.01)  # stands in for sending documents first..last to the search engine


@task
def rebuild_search_index(documents):
    for first in range(0, documents, 100):
        django_jobs.check_cancelled()  # raises JobCancelled once the job was asked to stop
        index_documents(first, min(first + 100, documents))
    return documents
