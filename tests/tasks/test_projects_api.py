import random
from decimal import Decimal

import pytest

from accounts.models import Membership
from tasks import services
from tasks.models import Item, Project
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
PROJECTS = "/api/v1/projects/"


def body(organization, /, **changes) -> dict:
    """The project body of the API contract."""
    return {
        "organization": organization.pk, "name": "Cardiology preference pairs",
        "preset": "preference", "domain": "medicine-cardiology",
        "instructions": "Pick the more accurate answer...",
        "fields": [{"name": "prompt", "type": "text"},
                   {"name": "completions", "type": "text_list"}],
        "questions": [{"name": "better", "kind": "pairwise"},
                      {"name": "rewrite", "kind": "text", "required": False}],
        "overlap": 3, "max_overlap": 5, "gold_rate": "0.10", "review_rate": "0.05",
        "min_degree": "phd", "min_trust": "0.70", "assignment_ttl_s": 3600,
        "auto_approve_after_s": 259200, "price_per_item": "4.00", "currency": "USD",
        "visibility": "public", "require_qualification": True, **changes,
    }


def work(project, experts=1, answers=1, choice="A"):
    """Let `experts` new experts each answer `answers` items of the project."""
    for _ in range(experts):
        expert = factories.expert()
        for _ in range(answers):
            assignment = next_assignment(expert, project, rng=random.Random(1)).assignment
            services.submit(assignment_id=assignment.pk, user=expert,
                            answer={"better": choice})


@pytest.fixture
def owner_client(customer):
    return client_for(customer)


@pytest.fixture
def organization(customer):
    return factories.organization_of(customer)


def test_create_answers_201_draft_with_the_contract_fields(owner_client, organization):
    response = owner_client.post(PROJECTS, body(organization), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft"
    assert data["organization"] == organization.pk
    assert data["domain"] == "medicine-cardiology"
    assert (data["price_per_item"], data["currency"]) == ("4.00", "USD")
    assert (data["gold_rate"], data["review_rate"], data["min_trust"]) == (
        "0.100", "0.050", "0.700")
    assert [q["name"] for q in data["questions"]] == ["better", "rewrite"]
    assert data["questions"][1]["required"] is False
    project = Project.objects.get(pk=data["id"])
    assert (project.overlap, project.max_overlap, project.min_degree) == (3, 5, "phd")
    assert project.created_by.memberships.get().organization == organization


def test_a_preset_alone_fills_fields_and_questions(owner_client, organization):
    response = owner_client.post(PROJECTS, {
        "organization": organization.pk, "name": "Rubric", "preset": "rubric",
        "domain": "data-science-machine-learning", "agreement_threshold": "0.8",
        "rating_spread_threshold": "2", "currency": "eur"}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [f["name"] for f in data["fields"]] == ["prompt", "response"]
    assert [q["name"] for q in data["questions"]] == ["helpfulness", "accuracy", "safety",
                                                      "justification"]
    assert (data["overlap"], data["max_overlap"]) == (1, 1)
    assert (data["agreement_threshold"], data["rating_spread_threshold"]) == ("0.800", "2.00")
    assert (data["preset"], data["currency"]) == ("rubric", "EUR")


def test_item_list_queries_do_not_grow_with_the_page(customer, django_assert_max_num_queries):
    project = factories.project(customer, items=40, gold=5, overlap=2, max_overlap=2)
    work(project, experts=2, answers=3)
    with django_assert_max_num_queries(8):
        response = client_for(customer).get(f"{PROJECTS}{project.pk}/items/?page_size=100")
    assert len(response.json()["results"]) == 45


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"domain": "astrology"}, "domain", "Unknown domain: 'astrology'"),
    ({"organization": 999999}, "organization", "Unknown organization."),
    ({"gold_rate": "1.5"}, "gold_rate", "less than or equal to 1"),
    ({"review_rate": "-0.1"}, "review_rate", "greater than or equal to 0"),
    ({"min_trust": "2"}, "min_trust", "less than or equal to 1"),
    ({"agreement_threshold": "1.01"}, "agreement_threshold", "less than or equal to 1"),
    ({"price_per_item": "-1.00"}, "price_per_item", "digits 0-9"),
    ({"price_per_item": "1.234"}, "price_per_item", "at most 2 decimals"),
    ({"currency": "US$"}, "currency", "three-letter"),
    ({"assignment_ttl_s": 10}, "assignment_ttl_s", "greater than or equal to 60"),
    ({"overlap": 0}, "overlap", "greater than or equal to 1"),
    ({"overlap": 3, "max_overlap": 2}, "max_overlap", "at least overlap"),
    ({"min_degree": "wizard"}, "min_degree", "not a valid choice"),
    ({"preset": "poetry"}, "preset", "not a valid choice"),
    ({"questions": [{"name": "better", "kind": "vibes"}]}, "questions", "vibes"),
    ({"fields": "prompt"}, "fields", "must be a list"),
    ({"preset": None, "fields": None}, "preset", "null"),
    ({"contract": "hourly", "hourly_rate": "40.00"}, "price_per_item", "must be 0"),
    ({"hourly_rate": "40.00"}, "hourly_rate", "must be 0"),
    ({"contract": "weekly"}, "contract", "not a valid choice"),
    ({"contract": "hourly", "price_per_item": "0", "hourly_rate": "-1"}, "hourly_rate",
     "digits 0-9"),
    ({"weekly_cap_hours": "0"}, "weekly_cap_hours", "greater than or equal to 0.01"),
    ({"weekly_cap_hours": "168.5"}, "weekly_cap_hours", "less than or equal to 168"),
    ({"estimated_seconds": 0}, "estimated_seconds", "greater than or equal to 1"),
])
def test_invalid_bodies_answer_400_naming_the_field(owner_client, organization, changes,
                                                    field, message):
    response = owner_client.post(PROJECTS, body(organization, **changes), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert any(message in text for text in errors[field]), errors
    assert not Project.objects.exists()


def test_schema_errors_name_every_problem_at_once(owner_client, organization):
    payload = body(organization, fields=None, questions=[
        {"name": "better", "kind": "pairwise", "field": "nowhere"},
        {"name": "Bad Name", "kind": "text"}])
    del payload["fields"]
    response = owner_client.post(PROJECTS, payload, format="json")
    assert response.status_code == 400
    messages = response.json()["questions"]
    assert len(messages) == 2
    assert "nowhere" in messages[0] and "Bad Name" in messages[1]


def test_another_organization_is_as_unknown_as_a_missing_one(customer, other_customer):
    other = factories.organization_of(other_customer)
    response = client_for(customer).post(PROJECTS, body(other), format="json")
    assert response.status_code == 400
    assert response.json() == {"organization": ["Unknown organization."]}


def test_staff_create_for_any_organization(staff, organization):
    response = client_for(staff).post(PROJECTS, body(organization), format="json")
    assert response.status_code == 201
    assert response.json()["organization"] == organization.pk


def test_qa_leads_read_but_do_not_change_projects(customer, organization):
    project = factories.project(customer, items=1, activate=False)
    qa = client_for(factories.member(organization, role=Membership.Role.QA_LEAD))
    assert qa.get(f"{PROJECTS}{project.pk}/").status_code == 200
    assert qa.get(f"{PROJECTS}{project.pk}/items/").status_code == 200
    assert qa.post(PROJECTS, body(organization), format="json").status_code == 403
    assert qa.patch(f"{PROJECTS}{project.pk}/", {"name": "x"}, format="json").status_code == 403
    assert qa.post(f"{PROJECTS}{project.pk}/activate/").status_code == 403


def test_members_may_create_and_change(customer, organization):
    member = client_for(factories.member(organization))
    response = member.post(PROJECTS, body(organization), format="json")
    assert response.status_code == 201
    project_url = f"{PROJECTS}{response.json()['id']}/"
    assert member.patch(project_url, {"name": "Renamed"}, format="json").json()["name"] == (
        "Renamed")


def test_list_shows_own_organizations_projects_and_filters(customer, other_customer, staff):
    draft = factories.project(customer, items=1, activate=False)
    active = factories.project(customer, items=1)
    foreign = factories.project(other_customer, items=1)
    owner = client_for(customer)

    def ids(client, query=""):
        response = client.get(PROJECTS + query)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(owner) == {draft.pk, active.pk}
    assert ids(owner, "?status=active") == {active.pk}
    assert ids(owner, "?status=draft") == {draft.pk}
    assert ids(owner, f"?organization={foreign.organization_id}") == set()
    assert ids(owner, f"?organization={draft.organization_id}") == {draft.pk, active.pk}
    assert ids(owner, "?domain=law-tax") == set()
    assert ids(client_for(staff)) == {draft.pk, active.pk, foreign.pk}
    assert ids(client_for(staff), f"?organization={foreign.organization_id}") == {foreign.pk}
    assert client_for(staff).get(PROJECTS + "?status=nonsense").status_code == 400


def test_patch_changes_settings_and_keeps_organization_and_status(customer):
    project = factories.project(customer, items=2, activate=False)
    response = client_for(customer).patch(f"{PROJECTS}{project.pk}/", {
        "name": "Renamed", "gold_rate": "0.25", "price_per_item": "5.50",
        "domain": "medicine-oncology", "status": "active", "organization": 12345,
    }, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["name"], data["gold_rate"], data["price_per_item"], data["domain"]) == (
        "Renamed", "0.250", "5.50", "medicine-oncology")
    assert data["status"] == "draft"
    assert data["organization"] == project.organization_id


def test_patch_validates_like_create(customer):
    project = factories.project(customer, items=1, activate=False, overlap=2)
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/"
    assert "max_overlap" in client.patch(url, {"max_overlap": 1}, format="json").json()
    assert "domain" in client.patch(url, {"domain": "astrology"}, format="json").json()
    response = client.patch(url, {"questions": [{"name": "x", "kind": "label"}]},
                            format="json")
    assert response.status_code == 400 and "questions" in response.json()


def test_fields_that_work_depends_on_freeze_once_experts_started(customer):
    project = factories.project(customer, items=2)
    work(project)
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/"
    response = client.patch(url, {"price_per_item": "9.00", "domain": "medicine-oncology"},
                            format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"price_per_item", "domain"}
    assert client.patch(url, {"instructions": "Be precise."}, format="json").status_code == 200


def test_raising_overlap_reaches_the_items(customer):
    project = factories.project(customer, items=2, overlap=1, max_overlap=1)
    response = client_for(customer).patch(f"{PROJECTS}{project.pk}/",
                                          {"overlap": 3, "max_overlap": 3}, format="json")
    assert response.status_code == 200
    assert set(project.items.values_list("overlap", flat=True)) == {3}


def test_transitions(customer):
    project = factories.project(customer, items=0, activate=False)
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/"
    response = client.post(url + "activate/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_items"
    Item.objects.create(project=project, external_id="1", data=factories.preference_data(1),
                        overlap=1)
    assert client.post(url + "activate/").json()["status"] == "active"
    assert client.post(url + "pause/").json()["status"] == "paused"
    response = client.post(url + "pause/")
    assert response.status_code == 409
    assert response.json() == {"detail": "Cannot pause a project that is paused.",
                               "code": "invalid_transition"}
    assert client.post(url + "activate/").json()["status"] == "active"
    assert client.post(url + "archive/").status_code == 409
    assert client.post(url + "complete/").json()["status"] == "completed"
    assert client.post(url + "activate/").status_code == 409
    assert client.post(url + "archive/").json()["status"] == "archived"


def test_items_list_status_counts_and_gold_for_the_customer(customer):
    project = factories.project(customer, items=3, gold=1, overlap=2, max_overlap=2)
    work(project, experts=2, answers=1)
    lease = next_assignment(factories.expert(), project, rng=random.Random(1)).assignment
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/items/"
    rows = {row["external_id"]: row for row in client.get(url).json()["results"]}
    assert {k: (r["status"], r["annotations"]) for k, r in rows.items()} == {
        "item-0": ("complete", 2), "item-1": ("in_progress", 0), "item-2": ("open", 0),
        "gold-0": ("open", 0)}
    assert lease.item.external_id == "item-1"
    assert rows["gold-0"]["is_gold"] is True and rows["gold-0"]["gold"] == {"better": "A"}
    assert rows["item-0"]["gold"] is None and rows["item-0"]["overlap"] == 2
    assert rows["item-0"]["data"] == factories.preference_data(0)

    def listed(query):
        response = client.get(url + query)
        assert response.status_code == 200
        return [row["external_id"] for row in response.json()["results"]]

    assert listed("?status=complete") == ["item-0"]
    assert listed("?status=in_progress") == ["item-1"]
    assert listed("?status=open") == ["item-2", "gold-0"]
    assert listed("?is_gold=true") == ["gold-0"]
    assert listed("?is_gold=false&status=open") == ["item-2"]
    assert listed("?external_id=item-2") == ["item-2"]
    assert client.get(url + "?status=done").status_code == 400


def test_gold_answers_count_on_gold_items(customer):
    project = factories.project(customer, items=1, gold=1, gold_rate="1")
    expert = factories.expert()
    assignment = next_assignment(expert, project, rng=random.Random(0)).assignment
    assert assignment.is_gold
    services.submit(assignment_id=assignment.pk, user=expert, answer={"better": "B"})
    rows = client_for(customer).get(f"{PROJECTS}{project.pk}/items/?is_gold=true").json()
    assert [(r["annotations"], r["status"]) for r in rows["results"]] == [(1, "open")]


def test_progress(customer):
    project = factories.project(customer, items=4, gold=2, overlap=2, max_overlap=2)
    work(project, experts=2, answers=1)
    expert = factories.expert()
    next_assignment(expert, project, rng=random.Random(1))
    rejected = project.assignments.filter(status="submitted").first()
    services.reject_assignment(rejected)
    approved = project.assignments.filter(status="submitted").first()
    services.approve_assignment(approved)
    response = client_for(customer).get(f"{PROJECTS}{project.pk}/progress/")
    assert response.status_code == 200
    assert response.json() == {"items": 4, "complete": 0, "in_progress": 2, "open": 2,
                               "gold_items": 2, "annotations": 2, "approved": 1,
                               "rejected": 1, "assigned": 1}


CUSTOMER_ENDPOINTS = [
    ("get", ""), ("patch", ""), ("post", "activate/"), ("post", "pause/"),
    ("post", "complete/"), ("post", "archive/"), ("get", "items/"), ("get", "progress/"),
]


@pytest.mark.parametrize(("method", "suffix"), CUSTOMER_ENDPOINTS)
def test_other_organizations_and_experts_get_404_everywhere(customer, other_customer, method,
                                                           suffix):
    project = factories.project(customer, items=1)
    url = f"{PROJECTS}{project.pk}/{suffix}"
    for outsider in [other_customer, factories.expert()]:
        response = getattr(client_for(outsider), method)(url, {"name": "x"}, format="json")
        assert response.status_code == 404, (outsider, response.content)
        assert str(project.name) not in response.content.decode()
    project.refresh_from_db()
    assert (project.status, project.name) == ("active", project.name)


@pytest.mark.parametrize(("method", "suffix"), CUSTOMER_ENDPOINTS)
def test_staff_reach_every_project_endpoint(customer, staff, method, suffix):
    project = factories.project(customer, items=1)
    response = getattr(client_for(staff), method)(f"{PROJECTS}{project.pk}/{suffix}",
                                                  {"name": "Staff edit"}, format="json")
    assert response.status_code in {200, 409}, response.content


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", ""),
                                                *[(m, f"1/{s}") for m, s in CUSTOMER_ENDPOINTS]])
def test_anonymous_gets_401(api, method, suffix):
    response = getattr(api, method)(f"{PROJECTS}{suffix}", {}, format="json")
    assert response.status_code == 401


def test_experts_list_no_projects_and_cannot_create(expert, customer):
    factories.project(customer, items=1)
    client = client_for(expert)
    assert client.get(PROJECTS).json()["count"] == 0
    response = client.post(PROJECTS, body(factories.organization_of(customer)), format="json")
    assert response.status_code == 400
    assert response.json() == {"organization": ["Unknown organization."]}


def test_an_hourly_project_round_trips_its_contract(owner_client, organization):
    response = owner_client.post(PROJECTS, body(
        organization, contract="hourly", hourly_rate="40.00", price_per_item="0.00",
        weekly_cap_hours="20", estimated_seconds=240), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["contract"], data["hourly_rate"], data["price_per_item"]) == (
        "hourly", "40.00", "0.00")
    assert (data["weekly_cap_hours"], data["estimated_seconds"], data["gold_first"]) == (
        "20.00", 240, 0)
    url = f"{PROJECTS}{data['id']}/"
    changed = owner_client.patch(url, {"weekly_cap_hours": "12.5", "estimated_seconds": None,
                                       "gold_first": 9}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["weekly_cap_hours"], changed.json()["estimated_seconds"]) == (
        "12.50", None)
    assert owner_client.get(url).json()["gold_first"] == 0, "set by calibration only"
    per_task = owner_client.post(PROJECTS, body(organization), format="json").json()
    assert (per_task["contract"], per_task["hourly_rate"], per_task["weekly_cap_hours"]) == (
        "per_task", "0.00", "40.00")


def test_switching_contract_needs_the_other_price_at_zero(customer):
    project = factories.project(customer, items=1, activate=False, price_per_item="4.00")
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/"
    refused = client.patch(url, {"contract": "hourly", "hourly_rate": "40.00"}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()) == {"price_per_item"}
    switched = client.patch(url, {"contract": "hourly", "hourly_rate": "40.00",
                                  "price_per_item": "0"}, format="json")
    assert switched.status_code == 200, switched.json()
    assert switched.json()["contract"] == "hourly"


def test_contract_and_hourly_rate_freeze_once_experts_started(customer):
    factories.fund(factories.organization_of(customer), "1000.00")
    project = factories.project(customer, items=2, contract="hourly", hourly_rate="40.00")
    work(project)
    client = client_for(customer)
    url = f"{PROJECTS}{project.pk}/"
    response = client.patch(url, {"contract": "per_task", "hourly_rate": "50.00"},
                            format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"contract", "hourly_rate"}
    assert client.patch(url, {"weekly_cap_hours": "10"}, format="json").status_code == 200


def test_the_hourly_floor_refuses_publishing_and_lowering_pay_by_name(customer, organization,
                                                                     settings):
    settings.HOURLY_RATE_FLOOR, settings.PLATFORM_FEE_RATE = Decimal("15.00"), Decimal("0.20")
    client = client_for(customer)
    response = client.post(PROJECTS, body(organization, estimated_seconds=1200), format="json")
    assert response.status_code == 201, response.json()
    project = Project.objects.get(pk=response.json()["id"])
    factories.add_items(project, [factories.preference_data(0)], activate=False)
    response = client.post(f"{PROJECTS}{project.pk}/activate/")
    assert response.status_code == 400
    assert response.json() == {"price_per_item": [
        "4.00 USD per item for about 20 min (customer's estimate) pays the expert 9.60 USD/h "
        "after the platform fee, below the floor of 15.00 USD/h; raise the price to at least "
        "6.25 USD or lower the estimate."]}
    assert client.patch(f"{PROJECTS}{project.pk}/", {"estimated_seconds": 600},
                        format="json").status_code == 200
    assert client.post(f"{PROJECTS}{project.pk}/activate/").status_code == 200
    response = client.patch(f"{PROJECTS}{project.pk}/", {"estimated_seconds": 1200},
                            format="json")
    assert (response.status_code, list(response.json())) == (400, ["price_per_item"])
    project.refresh_from_db()
    assert (project.status, project.estimated_seconds) == ("active", 600)


def test_projects_without_an_estimate_or_pay_are_not_held_to_the_floor(owner_client,
                                                                       organization):
    for changes in ({}, {"price_per_item": "0.00", "estimated_seconds": 3600}):
        response = owner_client.post(PROJECTS, body(organization, **changes), format="json")
        project = Project.objects.get(pk=response.json()["id"])
        factories.add_items(project, [factories.preference_data(0)], activate=False)
        assert owner_client.post(f"{PROJECTS}{project.pk}/activate/").status_code == 200
