"""Reports left pending or running before jobs were recorded get a job each, so that the
sweeper hands them out instead of leaving them waiting for a message the broker lost."""

from django.db import migrations
from django.utils import timezone


def record_jobs(apps, schema_editor):
    AgreementReport = apps.get_model("quality", "AgreementReport")
    Job = apps.get_model("durable", "Job")
    now = timezone.now()
    for report_id in AgreementReport.objects.filter(
            status__in=["pending", "running"]).values_list("pk", flat=True):
        Job.objects.get_or_create(key=f"quality.agreement_report:{report_id}", defaults={
            "func": "quality.jobs.build_agreement_report", "args": [report_id],
            "give_up": "quality.jobs.give_up_report", "available_at": now})


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_initial"),
        ("durable", "0001_initial"),
    ]

    operations = [migrations.RunPython(record_jobs, migrations.RunPython.noop)]
