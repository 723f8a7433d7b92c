from django_jobs import JobNotFoundError, get_status


def export_state(export) -> dict:
    """Return what the export's page shows of its job."""
    try:
        report = get_status(export.job_id)
    except JobNotFoundError:  # the job, or the dead job it became, was deleted
        return {"state": "gone"}
    return {
        "state": report.state,  # "queued", "running", "cancelling", "done", "failed", "cancelled"
        "percent": report.progress_percent,  # 0..100, or None before the first report
        "message": report.progress_message,  # "200 of 300 rows written"
        "error": report.error,  # "ConnectionError: timed out" for failed jobs, and for retries
        "result": report.result,  # the task's return value, once done
        "finished": report.finished,  # True once done, failed or cancelled
    }
