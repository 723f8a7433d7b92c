"""``EstimatedCountPaginator``: count a huge unfiltered list from PostgreSQL's estimate."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .. import dashboard

#: Above this many rows (by the planner's estimate) an unfiltered list shows the estimate.
ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """Count an unfiltered job list from PostgreSQL's estimate once it is past ``ESTIMATE_ABOVE``.

    An exact ``COUNT(*)`` of a table of millions of finished jobs costs a full scan on every page
    load. Filtered lists (by status, queue, search...) are still counted exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            estimate = dashboard.row_estimate(queryset.model)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                return estimate
        return super().count
