from django_jobs import job


@job
def count_orders(region):
    # One member of the group: its return value is stored as the job's result.
    return {"region": region, "orders": len(region) * 10}


@job
def send_summary(counts, to):
    # The group's callback: ``counts`` is every member's result, in the order given.
    total = sum(count["orders"] for count in counts)
    return f"{to}: {total} orders in {len(counts)} regions"


@job
def fetch_invoice(invoice_id):
    return {"invoice": invoice_id, "amount_cents": 1250}


@job
def render_pdf(invoice):
    # A chain step: ``invoice`` is what fetch_invoice returned.
    return f"invoice-{invoice['invoice']}.pdf"


@job
def email_pdf(path, to):
    return f"sent {path} to {to}"
