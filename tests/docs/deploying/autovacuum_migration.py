from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("django_jobs", "0003_notify_trigger")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE django_jobs_job SET (autovacuum_vacuum_scale_factor = 0.01, "
            "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02)",
            "ALTER TABLE django_jobs_job RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)",
        ),
    ]
