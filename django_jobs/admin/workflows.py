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
from ..workflows import get_workflow_status

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
    return format_html(
        '{}<table class="django-jobs-workflow"><thead><tr><th>position</th><th>role</th>'
        "<th>job</th><th>status</th></tr></thead><tbody>{}</tbody></table>",
        summary,
        rows,
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
    entries = [(p, "job", i, str(s)) for i, p, s in jobs]
    entries += [(p, "dead", (pk, i), "dead") for pk, i, p in dead]
    entries.sort(key=lambda e: (e[0] if e[0] is not None else -1, e[1]))
    rows = []
    for position, kind, ref, status in entries[:SHOWN]:
        if kind == "job":
            url = reverse("admin:django_jobs_job_change", args=[ref])
            label = f"{ref} (this job)" if ref == job_id else str(ref)
        else:
            pk, dead_job_id = ref  # type: ignore[misc]
            url = reverse("admin:django_jobs_deadjob_change", args=[pk])
            label = f"{dead_job_id} (this job)" if dead_job_id == job_id else str(dead_job_id)
        rows.append(
            format_html(
                '<td>{}</td><td>{}</td><td><a href="{}">{}</a></td><td>{}</td>',
                "-" if position is None else position,
                _role(workflow, position),
                url,
                label,
                status,
            )
        )
    return rows
