from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0003_notify_trigger"),
    ]

    operations = [
        migrations.CreateModel(
            name="Leader",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("worker_id", models.CharField(max_length=128)),
                ("elected_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
            ],
        ),
    ]
