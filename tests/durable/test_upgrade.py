"""Work left unfinished before jobs were recorded gets its job on upgrade (the data
migrations tasks 0004 and quality 0002), once, however often they run."""

from importlib import import_module

from django.apps import apps

from durable.models import Job
from quality.models import AgreementReport
from tasks.models import Batch
from tests import factories

batches = import_module("tasks.migrations.0004_jobs_for_unfinished_batches")
reports = import_module("quality.migrations.0002_jobs_for_unfinished_reports")


def test_unfinished_batches_and_reports_get_one_job_each(db):
    owner = factories.customer()
    project = factories.project(owner)
    waiting = Batch.objects.create(project=project, created_by=owner, status="pending",
                                   upload_path="uploads/upload-1.jsonl")
    Batch.objects.create(project=project, created_by=owner, status="done",
                         upload_path="uploads/upload-2.jsonl")
    Batch.objects.create(project=project, created_by=owner, status="processing")
    running = AgreementReport.objects.create(project=project, status="running")
    AgreementReport.objects.create(project=project, status="done")
    for _ in range(2):
        batches.record_jobs(apps, None)
        reports.record_jobs(apps, None)
    jobs = {job.key: (job.func, job.args, job.give_up, job.status) for job in Job.objects.all()}
    assert jobs == {
        f"tasks.process_batch:{waiting.pk}": (
            "tasks.jobs.process_batch", [waiting.pk], "tasks.jobs.give_up_batch", "queued"),
        f"quality.agreement_report:{running.pk}": (
            "quality.jobs.build_agreement_report", [running.pk], "quality.jobs.give_up_report",
            "queued"),
    }
