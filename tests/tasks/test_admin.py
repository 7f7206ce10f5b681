import random

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from tasks import services
from tasks.models import Assignment, Batch, Item, Project, Webhook, WebhookDelivery
from tasks.routing import next_assignment
from tests import factories

pytestmark = pytest.mark.django_db
ADMIN = "/admin/tasks/"


@pytest.fixture
def project(customer):
    """Three items of overlap two with one complete, one gold item, a live lease, a batch
    with row errors and a webhook with a failed delivery."""
    project = factories.project(customer, items=3, gold=1, overlap=2, max_overlap=2)
    for _ in range(2):
        expert = factories.expert(username=f"annotator{Assignment.objects.count()}")
        assignment = next_assignment(expert, project, rng=random.Random(1)).assignment
        services.submit(assignment_id=assignment.pk, user=expert, answer={"better": "A"})
    next_assignment(factories.expert(username="leaseholder"), project, rng=random.Random(1))
    Batch.objects.create(project=project, file_format="csv", filename="rows.csv",
                         status=Batch.Status.FAILED, rows=2, errors=[
                             {"row": 2, "field": "prompt", "message": "This field is required."}])
    webhook = Webhook.objects.create(project=project, url="https://hooks.example.com/x",
                                     secret="do-not-show-this-secret",
                                     events=["item.completed"])
    WebhookDelivery.objects.create(webhook=webhook, event="item.completed", payload={"id": 1},
                                   status=WebhookDelivery.Status.FAILED, attempts=3,
                                   next_attempt_at=timezone.now(), response_status=500,
                                   error="Server error")
    return project


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


MODELS = ["project", "item", "assignment", "annotation", "batch", "webhook", "webhookdelivery"]


@pytest.mark.parametrize("model", MODELS)
def test_changelists_and_change_pages_load(admin_client, project, model):
    rows = listed(admin_client.get(f"{ADMIN}{model}/"))
    assert rows
    response = admin_client.get(f"{ADMIN}{model}/{rows[0].pk}/change/")
    assert response.status_code == 200
    assert b"do-not-show-this-secret" not in response.content


def test_project_changelist_shows_progress_without_a_query_per_row(
        admin_client, project, customer, django_assert_max_num_queries):
    factories.project(customer, items=2, activate=False)
    with django_assert_max_num_queries(12) as captured:
        rows = listed(admin_client.get(f"{ADMIN}project/"))
    by_name = {row.name: row for row in rows}
    assert (by_name[project.name].items_n, by_name[project.name].complete_n,
            by_name[project.name].annotations_n) == (3, 1, 2)
    for _ in range(5):
        factories.project(customer, items=2, activate=False)
    with django_assert_max_num_queries(len(captured)):
        assert len(listed(admin_client.get(f"{ADMIN}project/"))) == 7


@pytest.mark.parametrize(("query", "expected"), [
    ("?status__exact=active", True), ("?status__exact=draft", False),
    ("?q=Org", True), ("?q=nothing-like-it", False),
])
def test_project_filters_and_search(admin_client, project, query, expected):
    assert (project in listed(admin_client.get(f"{ADMIN}project/{query}"))) == expected
    organization = admin_client.get(f"{ADMIN}project/?organization__id__exact="
                                    f"{project.organization_id}")
    assert listed(organization) == [project]
    domain = admin_client.get(f"{ADMIN}project/?domain__id__exact={project.domain_id}")
    assert listed(domain) == [project]


def test_project_actions_go_through_the_services(admin_client, project, customer):
    draft = factories.project(customer, items=0, activate=False)
    response = admin_client.post(f"{ADMIN}project/", {
        "action": "pause", ACTION_CHECKBOX_NAME: [project.pk, draft.pk]}, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("Cannot pause a project that is draft." in m for m in messages)
    assert any("Paused 1 project(s)." in m for m in messages)
    project.refresh_from_db()
    assert project.status == Project.Status.PAUSED
    admin_client.post(f"{ADMIN}project/", {"action": "activate",
                                           ACTION_CHECKBOX_NAME: [project.pk]})
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE


def test_project_settings_are_read_only_here(admin_client, project):
    response = admin_client.get(f"{ADMIN}project/{project.pk}/change/")
    assert 'name="name"' not in response.content.decode()
    assert admin_client.get(f"{ADMIN}project/add/").status_code == 403


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"item-0", "item-1", "item-2", "gold-0"}),
    ("?status=complete", {"item-0"}),
    ("?status=in_progress", {"item-1"}),
    ("?status=open", {"item-2", "gold-0"}),
    ("?is_gold__exact=1", {"gold-0"}),
    ("?q=item-2", {"item-2"}),
])
def test_item_filters_and_search(admin_client, project, query, expected):
    rows = listed(admin_client.get(f"{ADMIN}item/{query}"))
    assert {row.external_id for row in rows} == expected


def test_item_counters_are_read_only_and_priority_is_editable(admin_client, project):
    item = project.items.get(external_id="item-0")
    page = admin_client.get(f"{ADMIN}item/{item.pk}/change/").content.decode()
    assert 'name="priority"' in page
    assert 'name="filled"' not in page and 'name="annotated"' not in page
    response = admin_client.post(f"{ADMIN}item/{item.pk}/change/", {"priority": 7})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.priority, item.filled, item.annotated) == (7, 2, 2)


def test_item_changelist_stays_flat(admin_client, customer, django_assert_max_num_queries):
    factories.project(customer, items=5)
    with django_assert_max_num_queries(12) as captured:
        listed(admin_client.get(f"{ADMIN}item/"))
    factories.project(customer, items=40)
    with django_assert_max_num_queries(len(captured)):
        assert len(listed(admin_client.get(f"{ADMIN}item/"))) == 45


@pytest.mark.parametrize(("query", "expected"), [
    ("?status__exact=submitted", 2), ("?status__exact=assigned", 1),
    ("?q=leaseholder", 1), ("?q=annotator", 2),
])
def test_assignment_filters_and_search_by_expert(admin_client, project, query, expected):
    assert len(listed(admin_client.get(f"{ADMIN}assignment/{query}"))) == expected
    by_project = listed(admin_client.get(f"{ADMIN}assignment/?project__id__exact={project.pk}"))
    assert len(by_project) == 3


@pytest.mark.parametrize("model", ["assignment", "annotation", "batch", "webhook",
                                   "webhookdelivery"])
def test_records_of_work_are_read_only(admin_client, project, model):
    row = listed(admin_client.get(f"{ADMIN}{model}/"))[0]
    assert admin_client.get(f"{ADMIN}{model}/add/").status_code == 403
    page = admin_client.get(f"{ADMIN}{model}/{row.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert admin_client.post(f"{ADMIN}{model}/{row.pk}/delete/", {"post": "yes"}
                             ).status_code == 403


def test_batch_errors_are_shown(admin_client, project):
    batch = Batch.objects.get()
    assert listed(admin_client.get(f"{ADMIN}batch/"))[0].errors
    page = admin_client.get(f"{ADMIN}batch/{batch.pk}/change/").content.decode()
    assert "This field is required." in page
    assert "rows.csv" in page


def test_gold_items_show_their_answer_to_operators(admin_client, project):
    gold = Item.objects.get(is_gold=True)
    page = admin_client.get(f"{ADMIN}item/{gold.pk}/change/").content.decode()
    assert "better" in page


def test_assignments_show_active_time_and_filter_by_contract(admin_client, project):
    Assignment.objects.filter(project=project, status="submitted").update(active_s=754)
    page = admin_client.get(f"{ADMIN}assignment/")
    assert "754" in page.content.decode()
    assert listed(admin_client.get(f"{ADMIN}assignment/?project__contract__exact=hourly")) == []
    assert len(listed(admin_client.get(
        f"{ADMIN}assignment/?project__contract__exact=per_task"))) == 3
