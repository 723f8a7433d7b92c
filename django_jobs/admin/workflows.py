"""The workflow panel of a job's (or dead job's) page: its workflow, and its place in it.

Shows the workflow's kind, progress and state (``get_workflow_status``), then the jobs around
this one: a chain's previous and next steps, a group's members (the first ``SHOWN`` of them)
and its callback, each linked to its page; dead members link to their dead job. Three indexed
reads, none of the jobs' arguments or results.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..exceptions import JobNotFoundError
from ..models import DeadJob, Job, Workflow, WorkflowKind
from ..status import get_workflow_status

#: The most jobs of a workflow listed on one page; the counts above cover the rest.
SHOWN = 50


def workflow_html(workflow_id: int | None, position: int | None, job_id: int) -> SafeString | str:
    """Return the panel of the job ``job_id`` at ``position`` of ``workflow_id`` ("-" if none)."""
    if workflow_id is None:
        return "-"
    try:
        status = get_workflow_status(workflow_id)
    except JobNotFoundError:
        return f"Workflow {workflow_id} (pruned)"
    workflow = Workflow.objects.get(id=workflow_id)
    summary = format_html(
        "<p>Workflow {} ({}): <strong>{}</strong>, {} of {} jobs done, {} dead, {} cancelled."
        " This job is {}.</p>",
        status.workflow_id,
        status.kind,
        status.state,
        status.done,
        status.total,
        status.failed,
        status.cancelled,
        _role(workflow, position),
    )
    rows = format_html_join("", "<tr>{}</tr>", ((row,) for row in _rows(workflow, job_id)))
    every = format_html(
        '<p><a href="{}?workflow__id__exact={}">All jobs of this workflow</a></p>',
        reverse("admin:django_jobs_job_changelist"),
        workflow_id,
    )
    return format_html(
        '{}<table class="django-jobs-workflow"><thead><tr><th>position</th><th>role</th>'
        "<th>job</th><th>status</th></tr></thead><tbody>{}</tbody></table>{}",
        summary,
        rows,
        every,
    )


def _role(workflow: Workflow, position: int | None) -> str:
    if position is None:
        return "in it"
    if workflow.kind == WorkflowKind.CHAIN:
        return f"step {position + 1} of {workflow.total}"
    if position >= workflow.members:
        return "its callback"
    return f"member {position + 1} of {workflow.members}"


def _rows(workflow: Workflow, job_id: int) -> list[SafeString]:
    jobs = list(
        Job.objects.filter(workflow_id=workflow.id)
        .order_by("workflow_position", "id")
        .values_list("id", "workflow_position", "status")[:SHOWN]
    )
    dead = list(
        DeadJob.objects.filter(workflow_id=workflow.id)
        .order_by("workflow_position", "id")
        .values_list("pk", "job_id", "workflow_position")[:SHOWN]
    )
    # (position, this job?, admin URL, job id, status), jobs and dead jobs merged by position.
    entries = [
        (p, i == job_id, reverse("admin:django_jobs_job_change", args=[i]), i, str(status))
        for i, p, status in jobs
    ]
    entries += [
        (p, i == job_id, reverse("admin:django_jobs_deadjob_change", args=[pk]), i, "dead")
        for pk, i, p in dead
    ]
    entries.sort(key=lambda e: (-1 if e[0] is None else e[0], e[3]))
    rows = []
    for position, this, url, shown_id, status in entries[:SHOWN]:
        rows.append(
            format_html(
                '<td>{}</td><td>{}</td><td><a href="{}">{}</a></td><td>{}</td>',
                "-" if position is None else position,
                _role(workflow, position),
                url,
                f"{shown_id} (this job)" if this else shown_id,
                status,
            )
        )
    return rows
