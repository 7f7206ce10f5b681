"""The customer's money pages: balance and statement, deposits recorded by operators, and
the applications and invitations of the organization's projects."""

from decimal import Decimal

import pytest
from django.utils.html import escape

from accounts.models import Membership
from marketplace import hourly, pseudonyms
from marketplace import services as money
from marketplace.models import Application, Deposit, ProjectInvitation
from tests import factories
from tests.marketplace.conftest import hourly_worked, next_week
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization(customer):
    return factories.organization_of(customer)


def funding_url(organization) -> str:
    return f"/workspace/organizations/{organization.pk}/funding/"


def applications_url(organization) -> str:
    return f"/workspace/organizations/{organization.pk}/applications/"


# -- funding --------------------------------------------------------------------------------


def test_a_member_reads_the_balance_and_the_statement(customer, organization):
    factories.fund(organization, "120.00")
    project = factories.project(customer, items=2, price_per_item=Decimal("5.00"))
    factories.answered(factories.expert(), project)
    member = factories.member(organization)
    response = signed_in(member).get(funding_url(organization))
    assert response.status_code == 200
    balance = response.context["balance"]
    assert (balance["available"], balance["reserved"]) == (Decimal("115.00"), Decimal("5.00"))
    kinds = [line.kind for line in response.context["page_obj"]]
    assert kinds == ["reservation", "deposit"]
    page = response.content.decode()
    assert "115.00 USD" in page and "A platform operator records each payment" in page
    assert "Record a payment" not in page


def test_the_menus_funding_link_goes_to_the_only_organization(customer, organization):
    response = signed_in(customer).get("/workspace/funding/")
    assert response.status_code == 302
    assert response["Location"] == funding_url(organization)


def test_a_member_of_several_organizations_chooses_one(customer, organization):
    other = factories.organization_of(factories.customer(organization="Second Org"))
    Membership.objects.create(user=customer, organization=other, role=Membership.Role.MEMBER)
    page = signed_in(customer).get("/workspace/funding/").content.decode()
    assert funding_url(organization) in page and funding_url(other) in page


def test_another_organizations_money_answers_404(customer, other_customer):
    other = factories.organization_of(other_customer)
    client = signed_in(customer)
    assert client.get(funding_url(other)).status_code == 404
    assert client.get(applications_url(other)).status_code == 404


def test_experts_without_membership_are_refused(expert, organization):
    client = signed_in(expert)
    for url in ("/workspace/funding/", funding_url(organization),
                "/workspace/applications/", applications_url(organization)):
        assert client.get(url).status_code == 403, url


def test_an_operator_records_a_deposit_once(organization):
    operator = factories.staff_user()
    client = signed_in(operator)
    body = {"kind": "deposit", "amount": "250.00", "currency": "USD", "reference": "wire-77"}
    response = client.post(funding_url(organization), body, follow=True)
    assert "Recorded the deposit wire-77 of 250.00 USD." in response.content.decode()
    assert response.context["balance"]["available"] == Decimal("250.00")
    response = client.post(funding_url(organization), body, follow=True)
    assert "The payment wire-77 was already recorded" in response.content.decode()
    assert Deposit.objects.count() == 1


def test_a_deposit_form_with_bad_input_changes_nothing(organization):
    client = signed_in(factories.staff_user())
    response = client.post(funding_url(organization), {
        "kind": "deposit", "amount": "-5", "currency": "USD", "reference": "wire-1"})
    assert response.context["form"].errors["amount"][0].startswith("Write the amount in")
    response = client.post(funding_url(organization), {
        "kind": "deposit", "amount": "0", "currency": "USD", "reference": "wire-1"})
    assert response.context["form"].errors["amount"] == ["The amount must be positive."]
    response = client.post(funding_url(organization), {
        "kind": "refund", "amount": "5.00", "currency": "USD", "reference": "back-1"})
    assert "a refund cannot exceed it" in response.context["form"].errors["amount"][0]
    assert not Deposit.objects.exists()


def test_a_customer_cannot_record_deposits(customer, organization):
    response = signed_in(customer).post(funding_url(organization), {
        "kind": "deposit", "amount": "1000.00", "currency": "USD", "reference": "self-made"})
    assert response.status_code == 200
    assert response.context["form"] is None
    assert not Deposit.objects.exists()


def test_the_funding_pages_queries_do_not_grow_with_its_lines(
        customer, organization, django_assert_max_num_queries):
    client = signed_in(customer)
    factories.fund(organization, "10.00")
    with django_assert_max_num_queries(20) as few:
        client.get(funding_url(organization))
    for _ in range(6):
        factories.fund(organization, "10.00")
    for _ in range(3):
        project = factories.project(customer, items=1, price_per_item=Decimal("1.00"))
        factories.answered(factories.expert(), project)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(funding_url(organization))
    assert len(response.context["page_obj"]) == 10


def test_hourly_time_shows_as_payable_then_spent_with_its_hours(customer, organization):
    hourly_worked(customer, organization)
    client = signed_in(customer)
    response = client.get(funding_url(organization))
    balance = response.context["balance"]
    assert (balance["available"], balance["payable"], balance["spent"]) == (
        Decimal("73.00"), Decimal("27.00"), Decimal("0.00"))
    [row] = balance["by_project"]
    assert (row["contract"], row["hours"], row["payable"]) == (
        "hourly", Decimal("0.75"), Decimal("27.00"))
    page = response.content.decode()
    assert 'data-figure="payable">27.00 USD' in page
    hours = [(line.kind, line.hours) for line in response.context["page_obj"]
             if line.hours is not None]
    assert hours == [("time_accrued", Decimal("0.25")), ("time_accrued", Decimal("0.50"))]

    hourly.pay_weekly(next_week())
    response = client.get(funding_url(organization))
    page = response.content.decode()
    assert 'data-figure="payable">0.00 USD' in page and 'data-figure="spent">27.00 USD' in page
    assert response.context["page_obj"][0].hours == Decimal("0.75")
    assert ": 0.75 h at 36.00/h" in page


# -- applications and invitations -----------------------------------------------------------


@pytest.fixture
def applied(customer):
    project = factories.project(customer, items=1, visibility="private")
    expert = factories.expert()
    application = money.apply_to_project(project=project, expert=expert,
                                         message="Ten years in cardiology.")
    return application


def test_an_owner_accepts_an_application(customer, organization, applied):
    client = signed_in(customer)
    page = client.get(applications_url(organization)).content.decode()
    assert pseudonyms.encode(applied.expert_id) in page
    assert "Ten years in cardiology." in page and "Cardiology" in page
    assert applied.expert.username not in page
    response = client.post(f"/workspace/applications/{applied.pk}/decide/",
                           {"decision": "accept"}, follow=True)
    assert "Accepted" in response.content.decode()
    applied.refresh_from_db()
    assert applied.status == Application.Status.ACCEPTED
    assert applied.project.roster.filter(expert=applied.expert, access="allowed").exists()


def test_an_owner_declines_an_application(customer, applied):
    signed_in(customer).post(f"/workspace/applications/{applied.pk}/decide/",
                             {"decision": "decline"})
    applied.refresh_from_db()
    assert applied.status == Application.Status.DECLINED


def test_members_see_applications_but_cannot_decide(organization, applied):
    client = signed_in(factories.member(organization))
    page = client.get(applications_url(organization)).content.decode()
    assert pseudonyms.encode(applied.expert_id) in page
    assert 'value="accept"' not in page and "Invite an expert" not in page
    response = client.post(f"/workspace/applications/{applied.pk}/decide/",
                           {"decision": "accept"}, follow=True)
    assert "owners and admins" in response.content.decode()
    applied.refresh_from_db()
    assert applied.status == Application.Status.PENDING


def test_another_organizations_application_answers_404(other_customer, applied):
    response = signed_in(other_customer).post(f"/workspace/applications/{applied.pk}/decide/",
                                              {"decision": "accept"})
    assert response.status_code == 404
    applied.refresh_from_db()
    assert applied.status == Application.Status.PENDING


def test_an_admin_invites_an_expert_by_directory_id(customer, organization):
    project = factories.project(customer, items=1, visibility="private")
    expert = factories.expert()
    admin = factories.member(organization, role=Membership.Role.ADMIN)
    client = signed_in(admin)
    response = client.post(applications_url(organization), {
        "project": project.pk, "expert": pseudonyms.encode(expert.pk), "message": "Join us"},
        follow=True)
    assert "The expert was invited." in response.content.decode()
    invitation = ProjectInvitation.objects.get()
    assert (invitation.project, invitation.expert, invitation.invited_by) == (
        project, expert, admin)
    assert pseudonyms.encode(expert.pk) in response.content.decode()


@pytest.mark.parametrize("reference", ["ex_nobody", "42", ""])
def test_an_invitation_to_nobody_is_refused_at_its_field(customer, organization, reference):
    project = factories.project(customer, items=1)
    response = signed_in(customer).post(applications_url(organization), {
        "project": project.pk, "expert": reference})
    assert response.context["form"].errors["expert"]
    assert not ProjectInvitation.objects.exists()


def test_inviting_an_expert_already_on_the_project_says_so(customer, organization, applied):
    money.decide_application(application=applied, by=customer, accept=True)
    response = signed_in(customer).post(applications_url(organization), {
        "project": applied.project_id, "expert": pseudonyms.encode(applied.expert_id)})
    assert escape("already on this project") in response.content.decode()
    assert not ProjectInvitation.objects.exists()


def test_the_applications_pages_queries_do_not_grow(customer, organization,
                                                    django_assert_max_num_queries):
    client = signed_in(customer)
    project = factories.project(customer, items=1, visibility="private")
    money.apply_to_project(project=project, expert=factories.expert())
    with django_assert_max_num_queries(20) as few:
        client.get(applications_url(organization))
    for _ in range(5):
        money.apply_to_project(project=project, expert=factories.expert())
        money.invite_expert(project=project, expert=factories.expert(), by=customer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(applications_url(organization))
    assert len(response.context["pending"]) == 6
    assert len(response.context["invitations"]) == 5
