"""Pure formatting for the admin pages: short durations, ``<pre>`` blocks, failed attempts."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def short_duration(seconds: float | None) -> str:
    """Return ``seconds`` as a short, rounded, human duration; "-" for None.

    >>> [short_duration(s) for s in (None, 4.2, 75, 3 * 3600 + 125, 2 * 86400 + 3700)]
    ['-', '4s', '1m 15s', '3h 2m', '2d 1h']
    """
    if seconds is None:
        return "-"
    total = int(seconds)
    for unit, size, sub_unit, sub_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if total >= size:
            return f"{total // size}{unit} {(total % size) // sub_size}{sub_unit}"
    return f"{total}s"


def pre(text: str) -> SafeString:
    """Return ``text`` escaped in the admin's monospace block."""
    return format_html('<pre class="django-jobs-pre">{}</pre>', text or "")


def json_block(value: Any) -> SafeString:
    """Return ``value`` as indented JSON with sorted keys, in a ``pre`` block."""
    return pre(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def errors_html(errors: list[dict[str, Any]]) -> SafeString:
    """Return the failed attempts in ``errors`` (a job's ``errors`` list), newest first."""
    if not errors:
        return format_html("<p>{}</p>", "No attempt has failed.")
    return format_html_join(
        "",
        '<div class="django-jobs-error"><h3>Attempt {} failed at {}: {}</h3>'
        '<p class="django-jobs-message">{}</p><pre class="django-jobs-pre">{}</pre></div>',
        (
            (
                e.get("attempt", "?"),
                e.get("failed_at", "?"),
                e.get("exception_class", ""),
                e.get("message", ""),
                e.get("traceback", ""),
            )
            for e in reversed(errors)
        ),
    )
