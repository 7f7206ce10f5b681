"""Batches left pending or processing before jobs were recorded get a job each, so that the
sweeper hands them out instead of leaving them waiting for a message the broker lost."""

from django.db import migrations
from django.utils import timezone


def record_jobs(apps, schema_editor):
    Batch = apps.get_model("tasks", "Batch")
    Job = apps.get_model("durable", "Job")
    now = timezone.now()
    for batch_id in Batch.objects.filter(status__in=["pending", "processing"]).exclude(
            upload_path="").values_list("pk", flat=True):
        Job.objects.get_or_create(key=f"tasks.process_batch:{batch_id}", defaults={
            "func": "tasks.jobs.process_batch", "args": [batch_id],
            "give_up": "tasks.jobs.give_up_batch", "available_at": now})


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0003_item_ingest_keys"),
        ("durable", "0001_initial"),
    ]

    operations = [migrations.RunPython(record_jobs, migrations.RunPython.noop)]
