import django_jobs

from .reports import email_pdf, fetch_invoice, render_pdf


def send_invoice(invoice_id, customer_email):
    workflow = django_jobs.chain(
        fetch_invoice.s(invoice_id),
        render_pdf.using(queue="pdf").s(),
        email_pdf.s(to=customer_email),
    )
    return workflow.id
