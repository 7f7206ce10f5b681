"""The customer's console in a real browser: a project created from a preset, a file that is
refused row by row and then stored by a background worker while its page follows, an export
downloaded, and the money and expert pages of the organization."""

import json
import re
from pathlib import Path

import pytest
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from playwright.sync_api import expect

from durable.models import Job
from marketplace import pseudonyms
from marketplace import services as money
from tasks.models import Batch, Project
from tests import factories


def run_queued_jobs() -> list[str]:
    """Do what a django-q worker does: take the jobs queued on the broker and run them."""
    broker = get_broker()
    ran = []
    for ack_id, payload in broker.dequeue() or []:
        job = SignedPackage.loads(payload)
        import_string(job["func"])(*job["args"], **job["kwargs"])
        broker.acknowledge(ack_id)
        ran.append(job["func"])
    return ran


def jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def item(n: int) -> dict:
    return {"external_id": f"q-{n}", "data": factories.preference_data(n)}


@pytest.mark.django_db(transaction=True)
def test_a_customer_creates_a_project_uploads_items_and_downloads_the_answers(
        page, login, screenshot, settings, tmp_path, taxonomy):
    settings.BATCH_SYNC_ROW_LIMIT = 3
    owner = factories.customer(organization="Heartwise Labs")
    login(owner)
    page.goto("/workspace/")
    page.get_by_role("link", name="Projects", exact=True).first.click()
    expect(page.locator("#content")).to_contain_text("no project yet")
    page.get_by_role("link", name="New project").click()

    page.fill("#id_name", "Chest pain triage")
    page.select_option("#id_preset", "classification")
    page.select_option("#id_domain", label="Cardiology")
    page.fill("#id_instructions", "Pick the answer a cardiologist would give a patient.")
    page.click("input[value='Create project']")
    expect(page.locator(".field-advanced .errorlist")).to_contain_text(
        "the 'classification' preset needs your own label question")
    screenshot("customer-project-new-errors")
    page.select_option("#id_preset", "preference")
    page.click("input[value='Create project']")
    expect(page.locator("h1")).to_contain_text("Chest pain triage")
    project = Project.objects.get(name="Chest pain triage")
    assert (project.preset, project.status) == ("preference", "draft")

    bad = tmp_path / "broken.jsonl"
    bad.write_text(jsonl([item(1), {"external_id": "q-2", "data": {"prompt": "Alone"}}]))
    page.set_input_files("#id_file", str(bad))
    page.click("input[value='Upload']")
    expect(page.locator(".project-row-errors")).to_contain_text("completions")
    expect(page.locator(".project-row-errors tbody tr")).to_have_count(1)
    screenshot("customer-upload-errors")
    assert not Batch.objects.exists()

    good = tmp_path / "triage.jsonl"
    good.write_text(jsonl([item(n) for n in range(8)]))
    page.set_input_files("#id_file", str(good))
    page.click("input[value='Upload']")
    expect(page).to_have_url(re.compile(r"/workspace/batches/\d+/$"))
    expect(page.locator(".batch-status")).to_contain_text("Pending")
    expect(page.locator("#batch-state")).to_contain_text("Waiting for a background worker")
    screenshot("customer-batch-pending")
    assert run_queued_jobs() == ["durable.runner.run"]
    assert Job.objects.get().key.startswith("tasks.process_batch:")
    expect(page.locator(".batch-status")).to_contain_text("Done")
    expect(page.locator("[data-batch=created]")).to_have_text("8")
    screenshot("customer-batch-done")

    page.get_by_role("link", name="Back to the project").click()
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("h1 .ws-badge")).to_have_text("Active")
    first, second = factories.expert(), factories.expert()
    factories.answered(first, project, {"better": "A"})
    factories.answered(second, project, {"better": "B", "rewrite": "A kinder answer."})
    page.reload()
    expect(page.locator(".project-counts")).to_contain_text("Annotations")
    screenshot("customer-project")

    with page.expect_download() as started:
        page.locator(f"a[href='/workspace/projects/{project.pk}/export/raw.jsonl']").click()
    download = started.value
    assert download.suggested_filename == f"project-{project.pk}-raw.jsonl"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert sorted((row["external_id"], row["answer"]["better"]) for row in rows) == sorted(
        (annotation.item.external_id, annotation.answer["better"])
        for annotation in project.annotations.select_related("item"))
    assert len(rows) == 2

    page.get_by_role("link", name="Projects", exact=True).first.click()
    expect(page.locator(".project-table tbody tr")).to_have_count(1)
    screenshot("customer-projects")


@pytest.mark.django_db(transaction=True)
def test_an_owner_manages_webhooks_money_and_applications(page, login, screenshot, taxonomy):
    owner = factories.customer(organization="Heartwise Labs")
    organization = factories.organization_of(owner)
    factories.fund(organization, "500.00")
    project = factories.project(owner, items=3, price_per_item="4.00")
    factories.answered(factories.expert(), project)
    applicant = factories.expert()
    money.apply_to_project(project=project, expert=applicant,
                           message="Twelve years of echocardiography.")
    login(owner)

    page.goto(f"/workspace/projects/{project.pk}/")
    page.get_by_role("link", name="Webhooks").click()
    page.fill("#id_url", "https://hooks.example.com/annomarket")
    page.click("input[value='Add webhook']")
    expect(page.locator(".webhook-created")).to_contain_text("copy its signing secret now")
    page.get_by_role("button", name="Send a ping").click()
    expect(page.locator(".messagelist")).to_contain_text("A ping was queued")
    screenshot("customer-webhooks")

    page.goto("/workspace/")
    page.get_by_role("link", name="Funding", exact=True).first.click()
    expect(page.locator("[data-figure=available]")).to_have_text("496.00 USD")
    expect(page.locator("[data-figure=reserved]")).to_have_text("4.00 USD")
    screenshot("customer-funding")

    page.get_by_role("link", name="Applications and invitations").click()
    expect(page.locator(".applications-pending")).to_contain_text(
        pseudonyms.encode(applicant.pk))
    screenshot("customer-applications")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".messagelist")).to_contain_text("Accepted")
    invited = factories.expert()
    page.select_option("#id_project", str(project.pk))
    page.fill("#id_expert", pseudonyms.encode(invited.pk))
    page.click("input[value='Invite']")
    expect(page.locator(".messagelist")).to_contain_text("The expert was invited.")
    assert project.invitations.get().expert == invited


@pytest.mark.django_db(transaction=True)
def test_another_organizations_project_answers_404_in_the_browser(page, login, taxonomy):
    owner = factories.customer()
    stranger = factories.project(factories.customer(), items=1)
    login(owner)
    assert page.request.get(f"/workspace/projects/{stranger.pk}/").status == 404
    assert page.request.get(f"/workspace/projects/{stranger.pk}/export/raw.jsonl").status == 404
