"""Job.cancel_requested_at: a running job asked to stop ends cancelled when its task stops."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_jobs', '0007_paused_queue'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='job',
            options={'ordering': ['-id'], 'permissions': [('cancel_job', 'Can cancel jobs'), ('run_now_job', 'Can make queued jobs run now')]},
        ),
        migrations.AddField(
            model_name='job',
            name='cancel_requested_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
