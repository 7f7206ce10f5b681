"""Operators read jobs in the admin; only the runner changes them."""

from durable import runner
from durable.models import Job


def test_operators_read_jobs_and_cannot_change_them(admin_client, tmp_path):
    job = runner.enqueue("tests.durable.functions.mark_then_fail", str(tmp_path / "log"), "a",
                         key="demo:1")
    runner.run(job.pk)
    listing = admin_client.get("/admin/durable/job/?status=queued")
    assert listing.status_code == 200
    assert b"demo:1" in listing.content
    detail = admin_client.get(f"/admin/durable/job/{job.pk}/change/")
    assert detail.status_code == 200 and b"RuntimeError: a broke" in detail.content
    assert admin_client.get("/admin/durable/job/add/").status_code == 403
    admin_client.post(f"/admin/durable/job/{job.pk}/delete/", {"post": "yes"})
    assert Job.objects.filter(pk=job.pk).exists()
