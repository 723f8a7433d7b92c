from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from django_jobs import job


@job(queue="mail", max_attempts=5)
def send_welcome_email(user_id):
    user = get_user_model().objects.get(pk=user_id)
    if not user.email:
        # send_mail() sends nothing to an empty address, and says nothing.
        raise ValueError(f"User {user.username!r} has no email address")
    send_mail(
        "Welcome!",
        f"Hello {user.username}, thanks for signing up.",
        "noreply@example.com",
        [user.email],
    )
    return user.email
