"""The metrics settings of the how-to: a bearer token for the scraper, from the environment."""

import os

# [settings]
DJANGO_JOBS = {
    # python -c "import secrets; print(secrets.token_urlsafe(32))", kept out of the code
    "METRICS_TOKEN": os.environ.get("DJANGO_JOBS_METRICS_TOKEN"),
    # Gauges that read 0 rather than vanish when a queue empties.
    "QUEUES": ["default", "mail", "reports"],
}
# [settings]
