"""A METRICS_PERMISSION hook of the how-to: scrapes from the monitoring network only."""

# [hook]
import ipaddress

from django_jobs.permissions import can_scrape_metrics

MONITORING = ipaddress.ip_network("10.20.0.0/16")


def from_monitoring(request):
    """The default check (token or permission), and only from the monitoring network."""
    address = ipaddress.ip_address(request.META["REMOTE_ADDR"])
    return address in MONITORING and can_scrape_metrics(request)


# DJANGO_JOBS = {"METRICS_PERMISSION": "myproject.permissions.from_monitoring", ...}
# [hook]
