"""The customer's project pages: listing with progress, creation from a preset, uploads
(all or nothing, in the request or in the background), webhooks and exports."""

import json
import random
from decimal import Decimal

import pytest
from django.utils.html import escape

from accounts.models import Membership
from tasks import jobs, services
from tasks.models import Batch, Item, Project, Webhook
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


def jsonl(*rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def item(n: int) -> dict:
    return {"external_id": f"row-{n}", "data": factories.preference_data(n)}


def upload(client, project, body: bytes, name: str = "items.jsonl"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"/workspace/projects/{project.pk}/batches/",
                       {"file": SimpleUploadedFile(name, body)})


@pytest.fixture
def owner(customer):
    return customer


@pytest.fixture
def organization(owner):
    return factories.organization_of(owner)


# -- the list -------------------------------------------------------------------------------


def test_the_list_shows_the_organizations_projects_with_their_progress(owner, other_customer):
    project = factories.project(owner, items=3)
    factories.project(other_customer, items=1)
    expert = factories.expert()
    assignment = next_assignment(expert, project, rng=random.Random(0)).assignment
    services.submit(assignment_id=assignment.pk, user=expert, answer={"better": "A"})
    response = signed_in(owner).get("/workspace/projects/")
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row[0].pk, row[1]["items"], row[1]["complete"], row[1]["open"],
             row[1]["annotations"]) for row in rows] == [(project.pk, 3, 1, 2, 1)]
    assert project.name in response.content.decode()


def test_the_list_filters_by_organization_and_status(owner):
    second = factories.customer()
    organization = factories.organization_of(second)
    active = factories.project(owner, items=1)
    draft = factories.project(owner)
    elsewhere = factories.project(second, items=1)
    Membership.objects.create(user=owner, organization=organization,
                              role=Membership.Role.MEMBER)
    client = signed_in(owner)

    def listed(**query):
        return {row[0].pk for row in client.get("/workspace/projects/", query).context["rows"]}

    assert listed() == {active.pk, draft.pk, elsewhere.pk}
    assert listed(status="draft") == {draft.pk}
    assert listed(organization=organization.pk) == {elsewhere.pk}
    assert listed(organization=organization.pk, status="draft") == set()


def test_the_lists_queries_do_not_grow_with_its_projects(owner, django_assert_max_num_queries):
    client = signed_in(owner)
    factories.project(owner, items=2)
    with django_assert_max_num_queries(12) as few:
        client.get("/workspace/projects/")
    for _ in range(6):
        factories.project(owner, items=2, gold=1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/workspace/projects/")
    assert len(response.context["rows"]) == 7


def test_experts_without_membership_are_refused(expert):
    client = signed_in(expert)
    assert client.get("/workspace/projects/").status_code == 403
    assert client.get("/workspace/projects/new/").status_code == 403


def test_another_organizations_project_and_batch_answer_404(owner, other_customer):
    project = factories.project(other_customer, items=1)
    batch = Batch.objects.create(project=project, file_format="jsonl")
    client = signed_in(owner)
    for url in (f"/workspace/projects/{project.pk}/", f"/workspace/batches/{batch.pk}/",
                f"/workspace/batches/{batch.pk}/progress/",
                f"/workspace/projects/{project.pk}/webhooks/",
                f"/workspace/projects/{project.pk}/export/raw.jsonl"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/workspace/projects/{project.pk}/status/",
                       {"action": "pause"}).status_code == 404
    assert upload(client, project, jsonl(item(1))).status_code == 404
    project.refresh_from_db()
    assert project.status == "active"


# -- creation -------------------------------------------------------------------------------


def creation(organization, **changes) -> dict:
    from accounts.models import Domain

    return {"organization": organization.pk, "name": "Cardiology answers", "preset": "sft",
            "domain": Domain.objects.get(slug="medicine-cardiology").pk,
            "instructions": "Answer as you would to a colleague.", "overlap": 2,
            "price_per_item": "3.50", "currency": "USD", "visibility": "public",
            "advanced": "", **changes}


def test_a_member_creates_a_project_from_a_preset(owner, organization):
    member = factories.member(organization)
    response = signed_in(member).post("/workspace/projects/new/", creation(organization))
    project = Project.objects.get(name="Cardiology answers")
    assert response.status_code == 302
    assert response["Location"] == f"/workspace/projects/{project.pk}/"
    assert (project.preset, project.overlap, str(project.price_per_item), project.status) == (
        "sft", 2, "3.50", "draft")
    assert [q["name"] for q in project.questions] == ["response"]
    assert project.created_by == member


def test_the_advanced_json_replaces_the_presets_questions(owner, organization):
    questions = [{"name": "sentiment", "kind": "label", "options": ["positive", "negative"]}]
    signed_in(owner).post("/workspace/projects/new/", creation(
        organization, preset="classification", advanced=json.dumps({"questions": questions})))
    project = Project.objects.get()
    assert [(q["name"], q["options"]) for q in project.questions] == [
        ("sentiment", ["positive", "negative"])]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"preset": "classification"}, "advanced", "questions: the 'classification' preset needs"),
    ({"advanced": "{not json"}, "advanced", "Not valid JSON"),
    ({"advanced": "[" * 5000 + "]" * 5000}, "advanced", "JSON nested deeper than 64 levels"),
    ({"advanced": '{"fields": [{"name": "\\u0000", "type": "text"}]}'}, "advanced",
     "fields.0.name: Contains a NUL character"),
    ({"advanced": '{"fields": 1e400}'}, "advanced", "1e400 is too large a number"),
    ({"advanced": '{"labels": []}'}, "advanced", 'Write a JSON object with "fields"'),
    ({"advanced": '{"questions": [{"name": "x", "kind": "dance"}]}'}, "advanced",
     "questions: "),
    ({"name": ""}, "name", "This field is required."),
    ({"overlap": "0"}, "overlap", "greater than or equal to 1"),
    ({"currency": "dollars"}, "currency", "Three capital letters"),
    ({"domain": "999999"}, "domain", "Select a valid choice"),
    ({"contract": "hourly", "hourly_rate": "40.00"}, "price_per_item", "must be 0"),
    ({"hourly_rate": "40.00"}, "hourly_rate", "must be 0"),
    ({"weekly_cap_hours": "169"}, "weekly_cap_hours", "less than or equal to 168"),
    ({"estimated_minutes": "0"}, "estimated_minutes", "greater than or equal to 0.1"),
])
def test_creation_errors_are_shown_next_to_their_field(owner, organization, changes, field,
                                                       message):
    response = signed_in(owner).post("/workspace/projects/new/",
                                     creation(organization, **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in text for text in errors[field]), errors
    assert escape(message) in response.content.decode()
    assert not Project.objects.exists()


def test_a_qa_lead_cannot_create_projects(organization):
    lead = factories.member(organization, role=Membership.Role.QA_LEAD)
    client = signed_in(lead)
    response = client.post("/workspace/projects/new/", creation(organization))
    assert "organization" in response.context["form"].errors
    assert not Project.objects.exists()
    assert b"New project" not in client.get("/workspace/projects/").content


# -- the project page -----------------------------------------------------------------------


def test_the_project_page_shows_settings_progress_and_exports(owner):
    project = factories.project(owner, preset="rubric", items=2)
    response = signed_in(owner).get(f"/workspace/projects/{project.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["progress"]["items"] == 2
    assert "helpfulness" in page and "Pause" in page
    exports = {view["name"]: view["unavailable"] for view in response.context["exports"]}
    assert exports["raw"] == "" and exports["consensus"] == ""
    assert "pairwise or ranking" in exports["dpo"]
    assert f"/workspace/projects/{project.pk}/export/raw.csv" in page
    assert f"/workspace/projects/{project.pk}/export/dpo.jsonl" not in page
    for pages in ("review", "reports", "experts", "webhooks"):
        assert f'href="/workspace/projects/{project.pk}/{pages}/"' in page


def test_a_member_pauses_and_activates_a_project(owner, organization):
    project = factories.project(owner, items=1)
    client = signed_in(factories.member(organization))
    url = f"/workspace/projects/{project.pk}/status/"
    assert client.post(url, {"action": "pause"}).status_code == 302
    project.refresh_from_db()
    assert project.status == "paused"
    client.post(url, {"action": "activate"})
    project.refresh_from_db()
    assert project.status == "active"


def test_activating_without_items_says_why(owner):
    project = factories.project(owner)
    response = signed_in(owner).post(f"/workspace/projects/{project.pk}/status/",
                                     {"action": "activate"}, follow=True)
    assert "Upload at least one non-gold item" in response.content.decode()
    project.refresh_from_db()
    assert project.status == "draft"


def test_a_qa_lead_reads_a_project_but_cannot_pause_it(owner, organization):
    project = factories.project(owner, items=1)
    client = signed_in(factories.member(organization, role=Membership.Role.QA_LEAD))
    page = client.get(f"/workspace/projects/{project.pk}/").content.decode()
    assert project.name in page and 'value="pause"' not in page
    response = client.post(f"/workspace/projects/{project.pk}/status/", {"action": "pause"},
                           follow=True)
    assert "does not allow" in response.content.decode()
    project.refresh_from_db()
    assert project.status == "active"


def test_the_project_pages_queries_do_not_grow_with_its_batches(
        owner, django_assert_max_num_queries):
    project = factories.project(owner, items=1)
    client = signed_in(owner)
    with django_assert_max_num_queries(20) as few:
        client.get(f"/workspace/projects/{project.pk}/")
    for n in range(8):
        Batch.objects.create(project=project, file_format="jsonl", filename=f"part-{n}.jsonl",
                             status="done", rows=1, created=1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/workspace/projects/{project.pk}/")
    assert b"part-7.jsonl" in response.content


# -- uploads --------------------------------------------------------------------------------


def test_an_upload_stores_its_items_and_shows_the_batch(owner):
    project = factories.project(owner, activate=False)
    response = upload(signed_in(owner), project, jsonl(item(1), item(2)))
    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/workspace/batches/{batch.pk}/"
    assert (batch.status, batch.created, batch.filename) == ("done", 2, "items.jsonl")
    assert Item.objects.filter(project=project).count() == 2
    page = signed_in(owner).get(response["Location"]).content.decode()
    assert "Done" in page and "batch_progress.js" not in page


def test_a_csv_upload_goes_through_the_same_ingest(owner):
    project = factories.project(owner, preset="sft", activate=False)
    body = b'external_id,prompt\nq-1,"What is a QT interval?"\n'
    upload(signed_in(owner), project, body, name="items.csv")
    assert list(Item.objects.values_list("external_id", "data")) == [
        ("q-1", {"prompt": "What is a QT interval?"})]


def test_bad_rows_are_listed_and_nothing_is_written(owner):
    project = factories.project(owner, activate=False)
    body = jsonl(item(1), {"external_id": "row-2", "data": {"prompt": "Only a prompt"}},
                 item(3))
    response = upload(signed_in(owner), project, body)
    assert response.status_code == 200
    assert [(e["row"], e["field"]) for e in response.context["row_errors"]] == [
        (2, "completions")]
    page = response.content.decode()
    assert "Problems in the file" in page and "<code>completions</code>" in page
    assert "Nothing was stored" in page
    assert not Item.objects.exists() and not Batch.objects.exists()


def test_a_file_of_another_kind_is_refused_at_its_field(owner):
    project = factories.project(owner, activate=False)
    response = upload(signed_in(owner), project, b"<xml/>", name="items.xml")
    assert "Name the file .jsonl, .json or .csv" in response.context["upload"].errors["file"][0]
    assert not Batch.objects.exists()


def test_a_qa_lead_cannot_upload(owner, organization):
    project = factories.project(owner, activate=False)
    client = signed_in(factories.member(organization, role=Membership.Role.QA_LEAD))
    response = upload(client, project, jsonl(item(1)))
    assert "does not allow" in response.content.decode()
    assert not Item.objects.exists()


def test_a_large_upload_goes_to_the_background_and_its_page_follows_it(
        owner, settings, django_capture_on_commit_callbacks):
    settings.BATCH_SYNC_ROW_LIMIT = 2
    project = factories.project(owner, activate=False)
    client = signed_in(owner)
    with django_capture_on_commit_callbacks() as queued:
        response = upload(client, project, jsonl(*[item(n) for n in range(5)]))
    batch = Batch.objects.get()
    assert response["Location"] == f"/workspace/batches/{batch.pk}/"
    assert len(queued) == 1
    page = client.get(response["Location"]).content.decode()
    assert "batch_progress.js" in page and "Waiting for a background worker" in page
    progress = client.get(f"/workspace/batches/{batch.pk}/progress/").json()
    assert (progress["status"], progress["finished"]) == ("pending", False)
    jobs.process_batch(batch.pk)
    progress = client.get(f"/workspace/batches/{batch.pk}/progress/").json()
    assert progress == {"status": "done", "status_label": "Done", "rows": 5, "created": 5,
                        "existing": 0, "finished": True}


def test_a_failed_background_batch_shows_its_bad_rows(owner, settings):
    settings.BATCH_SYNC_ROW_LIMIT = 2
    project = factories.project(owner, activate=False)
    client = signed_in(owner)
    upload(client, project, jsonl(item(1), item(2), {"external_id": "row-3", "data": {}}))
    batch = Batch.objects.get()
    jobs.process_batch(batch.pk)
    page = client.get(f"/workspace/batches/{batch.pk}/").content.decode()
    assert "Failed" in page and "nothing was stored" in page and "<code>prompt</code>" in page
    assert not Item.objects.exists()


# -- exports --------------------------------------------------------------------------------


@pytest.fixture
def answered(owner):
    """A preference project whose items two experts answered."""
    project = factories.project(owner, items=2, overlap=2)
    for choice in ("A", "B"):
        expert = factories.expert()
        for seed in range(2):
            assignment = next_assignment(expert, project,
                                         rng=random.Random(seed)).assignment
            services.submit(assignment_id=assignment.pk, user=expert,
                            answer={"better": choice, "rewrite": f"Better {choice}"})
    return project


@pytest.mark.parametrize("view", ["raw", "consensus", "sft", "dpo"])
@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_an_export_is_the_apis_export(owner, answered, view, file_format):
    response = signed_in(owner).get(
        f"/workspace/projects/{answered.pk}/export/{view}.{file_format}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    api = client_for(owner).get(f"/api/v1/projects/{answered.pk}/export/",
                                {"view": view, "format": file_format})
    assert api.status_code == 200
    assert body == b"".join(api.streaming_content)
    assert response["Content-Type"] == api["Content-Type"]
    assert response["Content-Disposition"] == api["Content-Disposition"]
    if view == "raw":
        assert body.count(b"\n") == 4 + (file_format == "csv")


def test_an_export_the_project_cannot_give_says_why(owner):
    project = factories.project(owner, preset="rubric", items=1)
    response = signed_in(owner).get(f"/workspace/projects/{project.pk}/export/dpo.jsonl",
                                    follow=True)
    assert "needs a pairwise or ranking question" in response.content.decode()


def test_an_unknown_export_view_says_so(owner):
    project = factories.project(owner, items=1)
    response = signed_in(owner).get(f"/workspace/projects/{project.pk}/export/everything.jsonl",
                                    follow=True)
    assert escape("Unknown view 'everything'") in response.content.decode()


# -- webhooks -------------------------------------------------------------------------------


def test_an_owner_adds_a_webhook_and_sees_its_secret_once(owner):
    project = factories.project(owner, items=1)
    client = signed_in(owner)
    url = f"/workspace/projects/{project.pk}/webhooks/"
    response = client.post(url, {"url": "https://example.com/hook",
                                 "events": ["item.completed", "batch.ingested"]})
    webhook = Webhook.objects.get()
    assert webhook.events == ["batch.ingested", "item.completed"]
    assert webhook.secret in response.content.decode()
    assert webhook.secret not in client.get(url).content.decode()


def test_a_bad_webhook_url_is_refused_at_its_field(owner):
    project = factories.project(owner, items=1)
    response = signed_in(owner).post(f"/workspace/projects/{project.pk}/webhooks/",
                                     {"url": "ftp://example.com", "events": ["item.completed"]})
    assert response.context["form"].errors["url"] == ["Enter an http:// or https:// URL."]
    assert not Webhook.objects.exists()


def test_webhooks_show_their_deliveries_and_are_removed(owner, django_assert_max_num_queries):
    from tasks import webhooks

    project = factories.project(owner, items=1)
    hooks = [webhooks.create_webhook(user=owner, project=project, url=f"https://e.com/{n}",
                                     events=["item.completed"]) for n in range(3)]
    for hook in hooks:
        webhooks.send_ping(user=owner, webhook=hook)
        webhooks.send_ping(user=owner, webhook=hook)
    client = signed_in(owner)
    with django_assert_max_num_queries(16):
        response = client.get(f"/workspace/projects/{project.pk}/webhooks/")
    assert [(hook.pending, hook.succeeded) for hook in response.context["webhooks"]] == [
        (2, 0)] * 3
    assert len(response.context["deliveries"]) == 6
    client.post(f"/workspace/webhooks/{hooks[0].pk}/delete/")
    assert Webhook.objects.count() == 2


def test_members_read_webhooks_but_only_owners_and_admins_change_them(owner, organization):
    from tasks import webhooks

    project = factories.project(owner, items=1)
    hook = webhooks.create_webhook(user=owner, project=project, url="https://e.com/h",
                                   events=["item.completed"])
    client = signed_in(factories.member(organization))
    page = client.get(f"/workspace/projects/{project.pk}/webhooks/").content.decode()
    assert "https://e.com/h" in page and "Add webhook" not in page
    client.post(f"/workspace/projects/{project.pk}/webhooks/",
                {"url": "https://e.com/other", "events": ["item.completed"]})
    response = client.post(f"/workspace/webhooks/{hook.pk}/delete/", follow=True)
    assert "owners and admins" in response.content.decode()
    assert list(Webhook.objects.values_list("url", flat=True)) == ["https://e.com/h"]


def test_another_organizations_webhook_answers_404(owner, other_customer):
    from tasks import webhooks

    project = factories.project(other_customer, items=1)
    hook = webhooks.create_webhook(user=other_customer, project=project, url="https://e.com/",
                                   events=["item.completed"])
    client = signed_in(owner)
    assert client.post(f"/workspace/webhooks/{hook.pk}/delete/").status_code == 404
    assert client.post(f"/workspace/webhooks/{hook.pk}/ping/").status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


# -- pay and time ---------------------------------------------------------------------------


def test_a_member_creates_an_hourly_project_with_a_cap_and_an_estimate(owner, organization):
    response = signed_in(owner).post("/workspace/projects/new/", creation(
        organization, contract="hourly", price_per_item="", hourly_rate="40.00",
        weekly_cap_hours="12.5", estimated_minutes="2.5"))
    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get()
    assert (project.contract, str(project.hourly_rate), str(project.price_per_item)) == (
        "hourly", "40.00", "0.00")
    assert (str(project.weekly_cap_hours), project.estimated_seconds) == ("12.50", 150)
    page = signed_in(owner).get(f"/workspace/projects/{project.pk}/").content.decode()
    assert "40.00 USD per hour of active time, up to 12.50 h per expert a week" in page


def test_the_pay_page_changes_only_what_was_changed(owner):
    factories.fund(factories.organization_of(owner), "1000.00")
    project = factories.project(owner, items=2, contract="hourly", hourly_rate="40.00")
    next_assignment(factories.expert(), project)
    client = signed_in(owner)
    url = f"/workspace/projects/{project.pk}/pay/"
    form = client.get(url).context["form"]
    assert (form["contract"].value(), form["hourly_rate"].value()) == ("hourly", "40.00")
    kept = {"contract": "hourly", "price_per_item": "0.00", "hourly_rate": "40.00",
            "weekly_cap_hours": "40.00", "estimated_minutes": ""}
    response = client.post(url, {**kept, "weekly_cap_hours": "10", "estimated_minutes": "3"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.weekly_cap_hours, project.estimated_seconds) == (Decimal(10), 180)
    frozen = client.post(url, {**kept, "hourly_rate": "55.00"})
    assert frozen.status_code == 200
    assert "Cannot change once experts have started work." in frozen.context["form"].errors[
        "hourly_rate"]
    project.refresh_from_db()
    assert project.hourly_rate == Decimal("40.00")


def test_a_qa_lead_cannot_change_pay(owner, organization):
    project = factories.project(owner, items=1, price_per_item="4.00")
    lead = factories.member(organization, role=Membership.Role.QA_LEAD)
    response = signed_in(lead).post(f"/workspace/projects/{project.pk}/pay/", {
        "contract": "per_task", "price_per_item": "9.00", "weekly_cap_hours": "40"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    project.refresh_from_db()
    assert project.price_per_item == Decimal("4.00")


def test_the_hourly_floor_is_shown_on_the_price_field_and_on_activation(owner, settings):
    settings.HOURLY_RATE_FLOOR, settings.PLATFORM_FEE_RATE = Decimal("15.00"), Decimal("0.20")
    project = factories.project(owner, items=1, price_per_item=Decimal("4.00"))
    Project.objects.filter(pk=project.pk).update(estimated_seconds=600)
    client = signed_in(owner)
    url = f"/workspace/projects/{project.pk}/pay/"
    kept = {"contract": "per_task", "price_per_item": "4.00", "hourly_rate": "0.00",
            "weekly_cap_hours": "40.00", "estimated_minutes": "10.0"}
    refused = client.post(url, {**kept, "estimated_minutes": "20"})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"price_per_item": [
        "4.00 USD per item for about 20 min (customer's estimate) pays the expert 9.60 USD/h "
        "after the platform fee, below the floor of 15.00 USD/h; raise the price to at least "
        "6.25 USD or lower the estimate."]}
    project.refresh_from_db()
    assert project.estimated_seconds == 600

    services.transition_project(user=owner, project=project, action="pause")
    Project.objects.filter(pk=project.pk).update(estimated_seconds=1200)
    response = client.post(f"/workspace/projects/{project.pk}/status/",
                           {"action": "activate"}, follow=True)
    assert "pays the expert 9.60 USD/h after the platform fee" in response.content.decode()
    project.refresh_from_db()
    assert project.status == "paused"
