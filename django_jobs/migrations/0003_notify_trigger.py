"""PostgreSQL only: NOTIFY django_jobs '<queue>' when ready jobs are inserted.

A statement-level trigger with a transition table sends one notification per queue per INSERT
statement, so ``enqueue_many`` of 10,000 jobs wakes workers once, and enqueue pays no extra round
trip. NOTIFY is transactional: delivered at commit, dropped on rollback.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION django_jobs_notify_insert() RETURNS trigger AS $$
BEGIN
    -- One second of slack: run_at comes from the application's clock, now() from the server's.
    PERFORM pg_notify('django_jobs', queue)
    FROM (
        SELECT DISTINCT queue FROM inserted
        WHERE status = 'queued' AND run_at <= now() + interval '1 second'
    ) AS ready;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER django_jobs_job_notify_insert
AFTER INSERT ON django_jobs_job
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION django_jobs_notify_insert();
"""

DROP = """
DROP TRIGGER IF EXISTS django_jobs_job_notify_insert ON django_jobs_job;
DROP FUNCTION IF EXISTS django_jobs_notify_insert();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("django_jobs", "0002_job_backoff")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
