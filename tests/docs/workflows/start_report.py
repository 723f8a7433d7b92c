from django.db import transaction

import django_jobs

from .reports import count_orders, send_summary


def start_daily_report(regions):
    with transaction.atomic():
        workflow = django_jobs.group(
            [count_orders.s(region) for region in regions],
            then=send_summary.s(to="ops@example.com"),
        )
    return workflow.id
