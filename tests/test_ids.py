"""Ids from clients are ASCII digits: superscripts, other scripts' digits and numbers too
large for a bigint name no row, and never raise."""

import pytest

from config.ids import parse_id
from marketplace import pseudonyms
from marketplace.models import Bonus, ProjectInvitation, Transaction
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import deposit, paid_project
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db

NOT_IDS = ["²", "\u0661\u0662", "\uff11\uff12", "-1", "+1", " 1", "1 ", "1\n", "1.0", "",
           "99999999999999999999", str(2**63)]


@pytest.mark.parametrize("text", NOT_IDS)
def test_only_ascii_digits_within_a_bigint_are_ids(text):
    assert parse_id(text) is None


def test_ascii_digits_are_ids():
    assert [parse_id(text) for text in ("0", "7", "0042", str(2**63 - 1))] == [
        0, 7, 42, 2**63 - 1]


@pytest.mark.parametrize("reference", ["²", "\u0661", "99999999999999999999", "ex_\x00"])
def test_an_expert_that_is_not_an_id_is_a_400_on_bonuses_and_invitations(customer, reference):
    deposit(factories.organization_of(customer), "20.00")
    project = paid_project(customer)
    factories.expert()
    client = client_for(customer)
    transactions = Transaction.objects.count()
    bonus = client.post(f"/api/v1/projects/{project.pk}/bonuses/", {
        "expert": reference, "amount": "1.00", "reason": "r", "idempotency_key": "k"},
        format="json")
    invitation = client.post(f"/api/v1/projects/{project.pk}/invitations/",
                             {"expert": reference}, format="json")
    for response in (bonus, invitation):
        assert (response.status_code, list(response.json())) == (400, ["expert"])
    assert not Bonus.objects.exists() and not ProjectInvitation.objects.exists()
    assert Transaction.objects.count() == transactions


def test_a_user_id_and_a_pseudonym_still_name_the_expert(customer):
    project = paid_project(customer, visibility="private")
    first, second = factories.expert(), factories.expert()
    client = client_for(customer)
    for reference in (str(first.pk), pseudonyms.encode(second.pk)):
        response = client.post(f"/api/v1/projects/{project.pk}/invitations/",
                               {"expert": reference}, format="json")
        assert response.status_code == 201, response.json()
    assert ProjectInvitation.objects.count() == 2


@pytest.mark.parametrize("value", ["²", "\u0661", "99999999999999999999"])
def test_pages_ignore_an_id_filter_that_is_not_an_id(customer, expert, value):
    organization = factories.organization_of(customer)
    owner = signed_in(customer)
    assert owner.get("/workspace/projects/", {"organization": value}).status_code == 200
    assert owner.get(f"/workspace/organizations/{organization.pk}/applications/",
                     {"project": value}).status_code == 200
    assert signed_in(expert).get("/workspace/work/", {"project": value}).status_code == 200


@pytest.mark.parametrize("one", ["\u0661", "\uff11", "\u0967"])
def test_ids_in_api_paths_are_ascii_digits(customer, one):
    """Other scripts' digits match Python's \\d and read as numbers; in a path they name
    nothing."""
    project = factories.project(customer)
    organization = factories.organization_of(customer)
    script = {ord("0") + n: ord(one) - 1 + n for n in range(10)}
    client = client_for(customer)
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    assert client.get(f"/api/v1/orgs/{organization.pk}/members/").status_code == 200
    assert client.get(f"/api/v1/projects/{str(project.pk).translate(script)}/"
                      ).status_code == 404
    assert client.get(f"/api/v1/orgs/{str(organization.pk).translate(script)}/members/"
                      ).status_code == 404


@pytest.mark.parametrize("one", ["\u0661", "\uff11", "\u0967"])
def test_ids_in_request_bodies_are_ascii_digits(customer, expert, one):
    """A foreign key in a body names its row as a JSON integer or ASCII digits; the same id in
    another script's digits, a superscript, a boolean or a number past a bigint names none."""
    organization = factories.organization_of(customer)
    project = factories.project(customer, items=2)
    script = {ord("0") + n: ord(one) - 1 + n for n in range(10)}
    owner, worker = client_for(customer), client_for(expert)
    body = {"name": "Triage", "preset": "preference", "domain": "medicine-cardiology"}
    projects = project.__class__.objects.count()
    for reference in (str(organization.pk).translate(script), "²", True, 2**63,
                      "99999999999999999999"):
        response = owner.post("/api/v1/projects/", {**body, "organization": reference},
                              format="json")
        assert (response.status_code, list(response.json())) == (400, ["organization"])
        response = worker.post("/api/v1/assignments/next/", {"project": reference},
                               format="json")
        assert (response.status_code, list(response.json())) == (400, ["project"])
    assert project.__class__.objects.count() == projects
    for reference in (organization.pk, str(organization.pk)):
        response = owner.post("/api/v1/projects/", {**body, "organization": reference},
                              format="json")
        assert response.status_code == 201, response.json()
    assert worker.post("/api/v1/assignments/next/", {"project": str(project.pk)},
                       format="json").status_code == 201


@pytest.mark.parametrize("three", ["\u0663", "\uff13", "\u00b3"])
def test_whole_numbers_in_bodies_and_queries_are_ascii_digits(customer, expert, three):
    """Counts are read like ids: "3" and 3 are three; another script's 3 is refused by name."""
    owner = client_for(customer)
    body = {"name": "Triage", "preset": "preference", "domain": "medicine-cardiology",
            "organization": factories.organization_of(customer).pk}
    response = owner.post("/api/v1/projects/", {**body, "overlap": three}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["overlap"])
    assert owner.post("/api/v1/projects/", {**body, "overlap": "3"},
                      format="json").json()["overlap"] == 3
    response = client_for(expert).patch(
        "/api/v1/me/", {"expert_profile": {"weekly_availability_hours": three}}, format="json")
    assert response.status_code == 400
    assert "weekly_availability_hours" in str(response.json())
    response = owner.get("/api/v1/experts/", {"verified_credentials": three})
    assert (response.status_code, list(response.json())) == (400, ["verified_credentials"])
    project = factories.project(customer, activate=False)
    response = owner.post(f"/api/v1/projects/{project.pk}/batches/", [
        {"external_id": "a", "data": factories.preference_data(1), "priority": three}],
        format="json")
    assert response.status_code == 400
