from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from django_jobs import get_status

from .jobs import export_orders
from .models import Export


@login_required
@require_POST
def start_export(request):
    with transaction.atomic():
        export = Export.objects.create(owner=request.user)
        export.job_id = export_orders.enqueue(export.pk).id
        export.save(update_fields=["job_id"])
    return redirect("shop:export", pk=export.pk)


@login_required
def export_page(request, pk):
    export = get_object_or_404(Export, pk=pk, owner=request.user)
    report = get_status(export.job_id)
    return render(request, "shop/export.html", {"export": export, "report": report})
