"""Who asked for what: the signed-in user, or for an anonymous visitor their session.

Every request a person makes on this site (an export, a sign-up, a tried job) records its owner
on its row when it is saved, in the same transaction that enqueues its job. Every page, the JSON
status and the CSV download then look rows up through ``owned_q(request)`` and answer anyone else
with 404, the answer an id that does not exist gets, so trying ids tells a stranger nothing.

An anonymous visitor is known by a random id kept in their session (``VISITOR_KEY``), not by the
session key itself: Django changes the session key at login, but keeps the session's data, so a
visitor who signs in keeps what they asked for before.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

#: The session key under which an anonymous visitor's id is kept.
VISITOR_KEY = "reports_visitor"


def visitor_id(request: HttpRequest, *, create: bool = False) -> str:
    """Return the id of this session's visitor; "" if it has none and ``create`` is false."""
    visitor = str(request.session.get(VISITOR_KEY, ""))
    if not visitor and create:
        visitor = uuid.uuid4().hex
        request.session[VISITOR_KEY] = visitor
    return visitor


def owner_fields(request: HttpRequest) -> dict[str, Any]:
    """Return the fields that make a new row belong to whoever sent ``request``.

    ``{"owner": user}`` for a signed-in user, ``{"visitor": id}`` for an anonymous visitor (the
    id is made and kept in the session on first use).
    """
    if request.user.is_authenticated:
        return {"owner": request.user}
    return {"visitor": visitor_id(request, create=True)}


def owned_q(request: HttpRequest) -> Q:
    """Return the condition for rows that belong to whoever sent ``request``; none for strangers.

    A signed-in user owns their rows, and the rows they made as an anonymous visitor in this
    session before signing in.
    """
    condition = Q(pk__in=[])
    if request.user.is_authenticated:
        condition |= Q(owner=request.user)
    visitor = visitor_id(request)
    if visitor:
        condition |= Q(owner__isnull=True, visitor=visitor)
    return condition
