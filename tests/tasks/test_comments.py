import json
import random

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from tasks import services
from tasks.export import expert_pseudonym
from tasks.models import Comment
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def discussion(customer):
    """One item answered by two experts; a third expert leased it and skipped it."""
    project = factories.project(customer, items=1, overlap=2)
    first, second, skipper = factories.expert(), factories.expert(), factories.expert()
    skipped = next_assignment(skipper, project, rng=random.Random(0)).assignment
    services.skip(assignment_id=skipped.pk, user=skipper)
    for expert, choice in ((first, "A"), (second, "B")):
        assignment = next_assignment(expert, project, rng=random.Random(0)).assignment
        services.submit(assignment_id=assignment.pk, user=expert,
                        answer={"better": choice, "rewrite": f"secret rewrite {choice}"})
    item = project.items.get()
    return project, item, first, second, skipper


def url(item) -> str:
    return f"/api/v1/items/{item.pk}/comments/"


def post(user, item, body):
    return client_for(user).post(url(item), {"body": body}, format="json")


def test_customer_and_experts_who_worked_the_item_discuss_it(customer, discussion):
    project, item, _, second, skipper = discussion
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    response = post(qa, item, "  Why B? The guideline prefers A here.  ")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["body"] == "Why B? The guideline prefers A here."
    assert created["author"] == {"role": "customer", "name": qa.username}
    assert created["mine"] is True and created["item"] == item.pk
    assert post(second, item, "B cites the 2023 guideline.").status_code == 201
    assert post(skipper, item, "I skipped it: not my field.").status_code == 201
    listed = client_for(customer).get(url(item)).json()
    assert listed["count"] == 3
    assert [c["body"] for c in listed["results"]] == [
        "Why B? The guideline prefers A here.", "B cites the 2023 guideline.",
        "I skipped it: not my field."]
    assert all(set(c) == {"id", "item", "author", "mine", "body", "created_at"}
               for c in listed["results"])
    assert listed["results"][1]["author"] == {
        "role": "expert", "name": expert_pseudonym(project.pk, second.pk)}
    assert [c["mine"] for c in listed["results"]] == [False, False, False]


def test_experts_see_pseudonyms_and_roles_never_names_or_answers(customer, staff, discussion):
    project, item, first, second, _ = discussion
    post(customer, item, "Please double-check.")
    post(staff, item, "Operator here.")
    post(second, item, "Checked.")
    response = client_for(first).get(url(item))
    assert response.status_code == 200
    authors = [c["author"] for c in response.json()["results"]]
    assert authors == [{"role": "customer", "name": "customer"},
                       {"role": "operator", "name": "operator"},
                       {"role": "expert", "name": expert_pseudonym(project.pk, second.pk)}]
    text = json.dumps(response.json())
    for leaked in (customer.username, staff.username, second.username, "secret rewrite"):
        assert leaked not in text
    own = client_for(second).get(url(item)).json()["results"][-1]
    assert own["mine"] is True and own["author"]["role"] == "expert"


def test_operators_see_every_author_by_username(staff, discussion):
    _, item, first, *_ = discussion
    post(first, item, "A question.")
    [comment] = client_for(staff).get(url(item)).json()["results"]
    assert comment["author"] == {"role": "expert", "name": first.username}


def test_no_one_else_finds_the_item(other_customer, discussion, expert):
    _, item, first, *_ = discussion
    post(first, item, "Visible to those who may see the item.")
    for outsider in (other_customer, expert):
        assert client_for(outsider).get(url(item)).status_code == 404
        assert post(outsider, item, "Let me in.").status_code == 404
    assert client_for(other_customer).get("/api/v1/items/999999/comments/").status_code == 404
    assert APIClient().get(url(item)).status_code == 401
    assert Comment.objects.count() == 1


def test_an_empty_comment_is_refused(customer, discussion):
    _, item, *_ = discussion
    response = post(customer, item, "   ")
    assert response.status_code == 400 and set(response.json()) == {"body"}
    assert not Comment.objects.exists()
