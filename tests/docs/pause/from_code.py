from django_jobs import pause_queue, paused_queues, resume_queue

# The mail provider is down: stop sending, keep accepting.
pause_queue("mail", by="ops: provider outage")  # True if paused now, False if it was already

for paused in paused_queues():
    print(f"{paused.queue} paused at {paused.paused_at:%Y-%m-%d %H:%M} UTC by {paused.paused_by}")

# Later, once it is back:
resume_queue("mail")  # True if it was paused; idle workers wake and drain it
