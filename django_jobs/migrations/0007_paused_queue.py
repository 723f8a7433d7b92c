"""PausedQueue: one row per paused queue, which the claim statement excludes."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_jobs', '0006_job_queue_ready_idx'),
    ]

    operations = [
        migrations.CreateModel(
            name='PausedQueue',
            fields=[
                ('queue', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('paused_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('paused_by', models.CharField(blank=True, default='', max_length=150)),
            ],
            options={
                'ordering': ['queue'],
                'permissions': [('pause_queue', 'Can pause and resume queues')],
                'default_permissions': (),
            },
        ),
    ]
