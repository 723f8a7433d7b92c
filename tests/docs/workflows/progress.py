import django_jobs


def report_progress(workflow_id):
    status = django_jobs.get_workflow_status(workflow_id)
    return f"{status.done}/{status.total} done, {status.state}"
