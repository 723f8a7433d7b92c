import django_jobs

from .reports import email_pdf, fetch_invoice, render_pdf


def send_invoice(invoice_id, customer_email):
    workflow = django_jobs.chain(
        fetch_invoice.call(invoice_id),
        render_pdf.using(queue="pdf").call(),
        email_pdf.call(to=customer_email),
    )
    return workflow.id
