"""What a person can type into an admin URL: a malformed id is a 404, a NUL character is ignored.

Ids come from the path (``job/abc/change/``) and from the changelist's POSTed selection; filters
and the search box from the query string. PostgreSQL refuses a NUL character in any text value,
so a filter or search holding one could never match and would end in a ``DataError`` (a 500):
such a parameter is dropped, with a message saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.http import Http404, HttpRequest, HttpResponse, QueryDict

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict

NUL = "\x00"


def object_pk(model: type[models.Model], object_id: str) -> Any:
    """Return ``object_id``, as an admin URL quotes it, as a primary key value of ``model``.

    Raises ``Http404`` when it cannot be one: not a number (``"abc"``, ``"1\\x00"``), or out of
    the column's range (``"99999999999999999999"``). Whether a row has that key is not checked.
    """
    field = model._meta.pk
    assert field is not None
    try:
        value = field.to_python(unquote(object_id))
    except (ValidationError, ValueError, TypeError) as exc:
        raise Http404(f"{object_id!r} is not a {model._meta.verbose_name} id.") from exc
    if isinstance(value, int):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            raise Http404(f"{object_id!r} is not a {model._meta.verbose_name} id.")
    return value


def without_nul(params: QueryDict) -> tuple[_ImmutableQueryDict, list[str]]:
    """Return a copy of ``params`` without the parameters that hold a NUL, and their names.

    >>> kept, dropped = without_nul(QueryDict("q=%00&queue=mail&task_path=a%00b"))
    >>> kept.urlencode(), dropped
    ('queue=mail', ['q', 'task_path'])
    """
    dropped = [key for key, values in params.lists() if NUL in key or any(NUL in v for v in values)]
    kept = params.copy()
    for key in dropped:
        del kept[key]
    return QueryDict(kept.urlencode()), dropped


class SafeInputsAdmin(admin.ModelAdmin):
    """A ``ModelAdmin`` whose object URLs answer 404 to malformed ids and whose lists drop NULs.

    Subclasses' own object views call ``object_pk`` before their look-up, as the views here do.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        request.GET, dropped = without_nul(request.GET)
        if dropped:
            self.message_user(
                request,
                f"Ignored {', '.join(repr(name.replace(NUL, '')) for name in dropped)}: a NUL "
                "character cannot be in any stored text, so it would match nothing.",
                messages.WARNING,
            )
        if request.method == "POST" and ACTION_CHECKBOX_NAME in request.POST:
            request.POST = self._valid_selection(request.POST)
        return super().changelist_view(request, extra_context)

    def _valid_selection(self, data: QueryDict) -> _ImmutableQueryDict:
        # Django filters pk__in=<the POSTed ids>, which raises (a 500) on one that is not a number.
        kept = data.copy()
        ids = []
        for object_id in data.getlist(ACTION_CHECKBOX_NAME):
            try:
                ids.append(str(object_pk(self.model, object_id)))
            except Http404:
                continue
        kept.setlist(ACTION_CHECKBOX_NAME, ids)
        return QueryDict(kept.urlencode())

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        object_pk(self.model, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        object_pk(self.model, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        object_pk(self.model, object_id)
        return super().delete_view(request, object_id, extra_context)
