"""``ReadOnlyAdmin``: what the job and dead-job admins share.

Rows change only through named actions, never through the change form; the lists never count or
facet the whole table; a number typed in the search box is an id; malformed ids and NUL characters
in the URL are refused as ``SafeInputsAdmin`` does; columns that may hold megabytes are left out
of lists and shown in part on change pages (``previews``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from ..models import DeadJob, Job
from .inputs import SafeInputsAdmin, object_pk
from .paginator import EstimatedCountPaginator
from .previews import json_html, preview_of, with_previews


class DeferringChangeList(ChangeList):
    """A changelist that never reads its admin's ``list_deferred`` columns.

    The list shows none of them, and each may hold megabytes: a list of two rows with 50 MB
    arguments took seconds to load. Actions get the same queryset; one that needs the deferred
    columns asks for them with ``.defer(None)``.
    """

    def get_queryset(
        self, request: HttpRequest, exclude_parameters: list[str | None] | None = None
    ) -> QuerySet[Any]:
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer(*getattr(self.model_admin, "list_deferred", ()))


class ReadOnlyAdmin(SafeInputsAdmin):
    """Rows change only through named actions, never through the change form."""

    show_full_result_count = False
    # Facet counts would COUNT every finished job for each filter choice.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    id_field = "id"
    #: Columns the list never reads; the change page reads only a preview of each.
    list_deferred: tuple[str, ...] = ("args", "kwargs", "errors")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DeferringChangeList

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # As ModelAdmin.get_object, with the big columns read as previews (see previews.py).
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        queryset = with_previews(self.get_queryset(request), self.list_deferred)
        try:
            return queryset.get(pk=object_pk(self.model, object_id))
        except (self.model.DoesNotExist, Http404):
            return None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # A number is a job id: one primary-key probe, where the OR with the text fields would
        # scan every finished job too.
        term = search_term.strip()
        if term.isdigit() and len(term) < 19:
            return queryset.filter(**{self.id_field: int(term)}), False
        return super().get_search_results(request, queryset, search_term)

    # Both Job and DeadJob keep the call as args and kwargs.
    @admin.display(description="args")
    def args_display(self, obj: Job | DeadJob) -> SafeString:
        return json_html(preview_of(obj, "args"))

    @admin.display(description="kwargs")
    def kwargs_display(self, obj: Job | DeadJob) -> SafeString:
        return json_html(preview_of(obj, "kwargs"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _object_url(self, name: str, obj_id: Any) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[obj_id])

    def _post_view(self, view: Any) -> Any:
        # admin_view() refuses non-staff users and applies CSRF protection; require_POST turns
        # a stray GET (a prefetching browser, a crawler) into a 405 instead of a state change.
        return self.admin_site.admin_view(require_POST(view))
