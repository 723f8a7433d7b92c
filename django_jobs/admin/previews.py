"""Show big columns in part: the first ``PREVIEW_CHARS`` characters, cut by the database.

A job's args, kwargs, result and errors, and a dead job's traceback and message, have no size
limit of their own, so one row can hold many megabytes. The lists do not read those columns at all
(``ReadOnlyAdmin.list_deferred``); a change page reads each through ``with_previews``, which asks
the database for its first ``PREVIEW_CHARS`` characters as text and its whole length, so neither
the query nor the page grows with the value.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.models.functions import Cast, Left, Length
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .display import errors_html, json_block, pre

#: How much of one value a page shows: 64 KiB of ASCII.
PREVIEW_CHARS = 65_536


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """The start of one stored value as text (None for SQL NULL) and its whole length.

    >>> Preview("abc", 3).complete, Preview("ab", 3).complete, Preview("ab", 3).more_chars
    (True, False, 1)
    """

    text: str | None
    chars: int

    @property
    def complete(self) -> bool:
        """True when ``text`` is the whole value."""
        return self.text is None or len(self.text) >= self.chars

    @property
    def more_chars(self) -> int:
        """Characters of the value not in ``text``."""
        return 0 if self.text is None else max(0, self.chars - len(self.text))


def with_previews(queryset: models.QuerySet[Any], fields: Sequence[str]) -> models.QuerySet[Any]:
    """Return ``queryset`` without ``fields`` read, and with ``<field>_preview``/``_chars``.

    ``<field>_preview`` is the first ``PREVIEW_CHARS`` characters of the field as text (JSON
    fields in the database's own JSON text), ``<field>_chars`` the length of all of it. Both are
    computed in SQL, so only the preview crosses the connection.
    """
    annotations: dict[str, Any] = {}
    for name in fields:
        field = queryset.model._meta.get_field(name)
        text: Any = Cast(name, models.TextField()) if isinstance(field, models.JSONField) else name
        annotations[f"{name}_preview"] = Left(text, PREVIEW_CHARS)
        annotations[f"{name}_chars"] = Length(text)
    return queryset.defer(*fields).annotate(**annotations)


def preview_of(obj: models.Model, name: str) -> Preview:
    """Return the preview of field ``name`` of ``obj``, read by ``with_previews`` or cut here.

    An object read without ``with_previews`` (an action's rows, a test's) is cut from the value
    it already holds.
    """
    if hasattr(obj, f"{name}_chars"):
        return Preview(getattr(obj, f"{name}_preview"), getattr(obj, f"{name}_chars") or 0)
    value = getattr(obj, name)
    if value is None:
        return Preview(None, 0)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return Preview(text[:PREVIEW_CHARS], len(text))


def cut_note(preview: Preview) -> SafeString:
    """Return the note that follows a cut value, naming how much was left out."""
    return format_html(
        '<p class="django-jobs-cut">... {} more characters not shown (the first {} are).</p>',
        f"{preview.more_chars:,}",
        f"{PREVIEW_CHARS:,}",
    )


def text_html(preview: Preview) -> SafeString:
    """Return a text value in a ``pre`` block, cut to ``PREVIEW_CHARS`` with a note."""
    block = pre(preview.text or "")
    return block if preview.complete else format_html("{}{}", block, cut_note(preview))


def json_html(preview: Preview) -> SafeString:
    """Return a JSON value indented, or, when it is too big, its first characters as stored."""
    if preview.text is None:
        return json_block(None)
    if preview.complete:
        return json_block(json.loads(preview.text))
    return text_html(preview)


def failed_attempts_html(preview: Preview) -> SafeString:
    """Return a job's ``errors`` as attempts, newest first; when too big, as stored, cut."""
    if preview.complete:
        return errors_html(json.loads(preview.text) if preview.text else [])
    return text_html(preview)
