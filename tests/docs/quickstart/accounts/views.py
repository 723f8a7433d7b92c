from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .jobs import send_welcome_email


@csrf_exempt  # only so that the curl command below works; keep CSRF protection in real views
@require_POST
def signup(request):
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=request.POST["username"], email=request.POST["email"]
        )
        job = send_welcome_email.enqueue(user.id)
    return JsonResponse({"user_id": user.id, "job_id": job.id}, status=201)
