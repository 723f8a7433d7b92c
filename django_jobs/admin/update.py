"""The "Change selected queued jobs" action: an intermediate form for run_at, priority and queue.

The form's values go through ``django_jobs.update.queued_changes`` (the validators ``enqueue``
uses), then one guarded ``engine.update_queued``: jobs that started or finished meanwhile are
left as they are, and the message says how many changed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .. import engine, validation
from ..exceptions import InvalidJobOptionsError
from ..models import Job
from ..update import queued_changes

ACTION = "update_selected"


class UpdateQueuedForm(forms.Form):
    """New values for the selected jobs; a field left empty is left as it is."""

    run_at = forms.DateTimeField(
        required=False, help_text="When they may run, e.g. 2026-12-01 09:00 (the site's time zone)."
    )
    priority = forms.IntegerField(
        required=False,
        min_value=validation.PRIORITY_MIN,
        max_value=validation.PRIORITY_MAX,
        help_text="-100..100, higher runs first.",
    )
    queue = forms.CharField(required=False, max_length=validation.QUEUE_MAX_LENGTH)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            self.changes = queued_changes(
                run_at=data.get("run_at"),
                priority=data.get("priority"),
                queue=data.get("queue") or None,
            )
        except InvalidJobOptionsError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


def update_selected(
    model_admin: Any, request: HttpRequest, queryset: QuerySet[Job]
) -> HttpResponse | None:
    """Show the form for the selected jobs; on "apply", change the queued ones among them."""
    form = UpdateQueuedForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        selected = queryset.count()
        changed = engine.update_queued(queryset, form.changes)
        level = messages.SUCCESS if changed == selected else messages.WARNING
        model_admin.message_user(
            request,
            f"Changed {changed} of {selected} selected job(s); only queued jobs change, the "
            "others had started or finished.",
            level,
        )
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Change selected queued jobs",
        "opts": Job._meta,
        "form": form,
        "jobs": queryset.only("id", "task_path", "status")[:100],
        "count": queryset.count(),
        "ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action": ACTION,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/django_jobs/job/update_queued.html", context)
