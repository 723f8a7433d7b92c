"""Use the status how-to's example as its reader's users would, and exit 1 if it misbehaves.

Run as ``python check.py`` in a copy of this project (tests/docs/test_howto_status.py does): Alice
starts an export, sees its page and its JSON status; Eve and a visitor who is not logged in are
refused; a worker runs the job; Alice's status then reads done, with its progress and result, in
the JSON view (whose keys are those of the page's status.json) and in shop/status.py alike.
"""

import json
import os
import sys
from pathlib import Path


def expect(condition, message):
    if not condition:
        sys.exit(message)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from shop.models import Export, Order
    from shop.status import export_state

    call_command("migrate", verbosity=0)
    Order.objects.bulk_create(Order(number=f"A{n}", total=n) for n in range(1, 1201))
    alice, eve = Client(HTTP_HOST="localhost"), Client(HTTP_HOST="localhost")
    alice.force_login(User.objects.create_user("alice"))
    eve.force_login(User.objects.create_user("eve"))

    page = alice.post("/exports/", follow=True)
    export = Export.objects.get()
    status_url = f"/jobs/{export.job_id}/status/"
    expect(page.status_code == 200, f"the export page answered {page.status_code}")
    expect(f'data-status-url="{status_url}"' in page.content.decode(), "no status URL on the page")
    expect(alice.get(status_url).json()["state"] == "queued", "the new job is not queued")
    shown = json.loads(Path("status.json").read_text())
    expect(alice.get(status_url).json().keys() == shown.keys(), "the JSON is not the page's")
    state = export_state(export)
    expect(state["state"] == "queued" and state["percent"] is None, f"export_state {state}")
    expect(export_state(Export(job_id=10**9)) == {"state": "gone"}, "an unknown id is not gone")
    expect(eve.get(status_url).status_code == 403, "another user may read Alice's job")
    expect(Client(HTTP_HOST="localhost").get(status_url).status_code == 403, "anyone may read it")
    expect(eve.get(f"/exports/{export.pk}/").status_code == 404, "Eve sees Alice's export page")

    call_command("runworker", "--burst", verbosity=0)
    status = alice.get(status_url).json()
    expect(status["state"] == "done", f"the job ended {status}")
    expect(status["progress_percent"] == 100, f"progress {status['progress_percent']}, not 100")
    expect(status["result"] == {"rows": 1200}, f"result {status['result']}")
    state = export_state(export)
    expect(state["state"] == "done" and state["finished"], f"export_state {state}")
    expect(state["percent"] == 100 and state["result"] == {"rows": 1200}, f"export_state {state}")
    expect(state["message"] == "1200 of 1200 rows written", f"export_state {state}")
    expect("1200 rows exported." in alice.get(f"/exports/{export.pk}/").content.decode(), "page")


if __name__ == "__main__":
    main()
