"""Finding each other: the anonymized expert directory, invitations, the experts' list of
open projects, applications, and the roster they lead to."""

import json
from decimal import Decimal

import pytest

from accounts.models import Credential, Expertise, ExpertProfile, Membership
from marketplace import pseudonyms
from tasks.models import Assignment, Project, ProjectExpert
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import deposit, hourly_project, lease, paid_project

pytestmark = pytest.mark.django_db
DIRECTORY = "/api/v1/experts/"
LISTED = "/api/v1/marketplace/projects/"
PAY_FIELDS = ("contract", "hourly_rate_after_fee", "estimated_seconds", "estimate_source",
              "implied_hourly_rate")


def trusted(expert, trust: str) -> None:
    Expertise.objects.filter(expert_id=expert.pk).update(trust=Decimal(trust))


class TestDirectory:
    def test_cards_show_skills_not_identities(self, customer):
        expert = factories.expert(languages=("en", "fr"))
        profile = ExpertProfile.objects.get(user=expert)
        Credential.objects.create(expert=profile, degree="phd", institution="Sorbonne",
                                  year=2012, status=Credential.Status.VERIFIED)
        factories.expert(verified=False)
        data = client_for(customer).get(DIRECTORY).json()
        assert data["count"] == 1
        card = data["results"][0]
        assert card == {
            "id": pseudonyms.encode(expert.pk), "degree": "phd", "field": "Medicine",
            "domains": [{"slug": "medicine-cardiology", "name": card["domains"][0]["name"],
                         "level": "qualified", "trust": "0.5000"}],
            "languages": ["en", "fr"], "weekly_availability_hours": 0,
            "verified_credentials": 1}
        text = json.dumps(data)
        for secret in [expert.username, expert.email, profile.full_name, str(expert.pk)]:
            assert secret not in text

    def test_filters(self, customer):
        cardiologist = factories.expert(languages=("en",))
        lawyer = factories.expert(domains=("law-contracts",), degree="masters",
                                  languages=("es",))
        trusted(cardiologist, "0.9")
        ExpertProfile.objects.filter(user=lawyer).update(weekly_availability_hours=20)
        client = client_for(customer)

        def ids(query: str) -> set[str]:
            response = client.get(DIRECTORY + query)
            assert response.status_code == 200, response.json()
            return {card["id"] for card in response.json()["results"]}

        cardio, law = pseudonyms.encode(cardiologist.pk), pseudonyms.encode(lawyer.pk)
        assert ids("") == {cardio, law}
        assert ids("?domain=medicine") == {cardio}, "a parent domain finds its children"
        assert ids("?domain=medicine-cardiology&min_trust=0.85") == {cardio}
        assert ids("?domain=law-contracts&min_trust=0.85") == set()
        assert ids("?degree=phd") == {cardio}
        assert ids("?degree=masters") == {cardio, law}
        assert ids("?language=es") == {law}
        assert ids("?available_hours=10") == {law}
        assert ids("?verified_credentials=1") == set()
        assert client.get(DIRECTORY + "?domain=astrology").status_code == 400
        assert client.get(DIRECTORY + "?degree=wizard").status_code == 400

    def test_for_customers_and_operators_only(self, customer, staff, api):
        assert api.get(DIRECTORY).status_code == 401
        assert client_for(factories.expert()).get(DIRECTORY).status_code == 403
        assert client_for(staff).get(DIRECTORY).status_code == 200

    def test_the_experts_own_profile_route_still_works(self):
        expert = factories.expert()
        response = client_for(expert).get(f"/api/v1/experts/{expert.pk}/")
        assert response.status_code == 200
        assert response.json()["full_name"].startswith("Dr. Expert")


class TestInvitations:
    def test_an_invited_expert_accepts_and_may_then_work(self, customer, organization):
        deposit(organization, "20.00")
        project = paid_project(customer, visibility="private")
        expert = factories.expert()
        assert lease(expert, project=None).assignment is None, "private: not let in yet"
        assert client_for(expert).get(LISTED).json()["count"] == 0
        url = f"/api/v1/projects/{project.pk}/invitations/"
        response = client_for(customer).post(url, {"expert": pseudonyms.encode(expert.pk),
                                                   "message": "We need you."}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["expert"] == pseudonyms.encode(expert.pk)

        client = client_for(expert)
        listed = client.get(LISTED).json()["results"]
        assert [(p["id"], p["access"], p["expert_price"]) for p in listed] == [
            (project.pk, "invited", "3.20")]
        invitations = client.get("/api/v1/me/invitations/").json()["results"]
        assert [(i["project"]["id"], i["status"]) for i in invitations] == [
            (project.pk, "pending")]
        invitation_id = invitations[0]["id"]
        response = client.post(f"/api/v1/me/invitations/{invitation_id}/accept/")
        assert (response.status_code, response.json()["status"]) == (200, "accepted")
        assert client.post(f"/api/v1/me/invitations/{invitation_id}/decline/"
                           ).status_code == 409
        assert ProjectExpert.objects.get(project=project, expert=expert).access == "allowed"
        assert lease(expert).assignment.project_id == project.pk

    def test_who_may_invite_whom(self, customer, organization, other_customer):
        project = paid_project(customer, visibility="private")
        expert = factories.expert()
        url = f"/api/v1/projects/{project.pk}/invitations/"
        body = {"expert": pseudonyms.encode(expert.pk)}
        qa_lead = factories.member(organization, role=Membership.Role.QA_LEAD)
        assert client_for(qa_lead).post(url, body, format="json").status_code == 403
        assert client_for(other_customer).post(url, body, format="json").status_code == 404
        response = client_for(customer).post(url, {"expert": "ex_nobodyatall1"},
                                             format="json")
        assert response.status_code == 400 and "expert" in response.json()
        response = client_for(customer).post(url, {"expert": str(customer.pk)}, format="json")
        assert response.status_code == 400, "customers are not experts"
        ProjectExpert.objects.create(project=project, expert=expert, access="removed",
                                     reason="Gold accuracy below 0.6")
        response = client_for(customer).post(url, body, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "removed")

    def test_another_experts_invitation_is_a_404(self, customer):
        project = paid_project(customer, visibility="private")
        expert = factories.expert()
        response = client_for(customer).post(f"/api/v1/projects/{project.pk}/invitations/",
                                             {"expert": pseudonyms.encode(expert.pk)},
                                             format="json")
        other = client_for(factories.expert())
        url = f"/api/v1/me/invitations/{response.json()['id']}/accept/"
        assert other.post(url).status_code == 404
        assert client_for(customer).post(url).status_code == 403, "not an expert"


class TestApplications:
    def test_apply_and_get_accepted(self, customer, organization):
        project = paid_project(customer)
        expert = factories.expert()
        client = client_for(expert)
        listed = client.get(LISTED).json()["results"]
        assert [(p["id"], p["access"], p["price_per_item"], p["currency"]) for p in listed] == [
            (project.pk, "open", "4.00", "USD")]
        response = client.post(f"{LISTED}{project.pk}/apply/", {"message": "Cardiologist."},
                               format="json")
        assert response.status_code == 201, response.json()
        assert client.post(f"{LISTED}{project.pk}/apply/", {}, format="json"
                           ).json()["code"] == "already_applied"
        assert client.get(LISTED).json()["results"][0]["access"] == "applied"

        url = f"/api/v1/projects/{project.pk}/applications/"
        applications = client_for(customer).get(url).json()["results"]
        assert [(a["expert"], a["message"], a["profile"]["degree"]) for a in applications] == [
            (pseudonyms.encode(expert.pk), "Cardiologist.", "phd")]
        assert expert.username not in json.dumps(applications)
        application_id = applications[0]["id"]
        member = factories.member(organization)
        assert client_for(member).post(f"{url}{application_id}/accept/").status_code == 403
        response = client_for(customer).post(f"{url}{application_id}/accept/")
        assert (response.status_code, response.json()["status"]) == (200, "accepted")
        assert client_for(customer).post(f"{url}{application_id}/decline/").status_code == 409
        assert ProjectExpert.objects.get(project=project, expert=expert).access == "allowed"
        assert client.get(LISTED).json()["results"][0]["access"] == "allowed"
        assert client.get("/api/v1/me/applications/").json()["results"][0]["status"] == \
            "accepted"

    def test_listing_follows_qualification_and_hides_private_projects(self, customer,
                                                                     other_customer):
        public = paid_project(customer)
        paid_project(customer, visibility="private")
        paid_project(customer, items=1, activate=False)
        strict = paid_project(other_customer, min_trust=Decimal("0.9"))
        client = client_for(factories.expert())
        assert [p["id"] for p in client.get(LISTED).json()["results"]] == [public.pk]
        assert client.post(f"{LISTED}{strict.pk}/apply/", {}, format="json"
                           ).status_code == 404
        lawyer = client_for(factories.expert(domains=("law-contracts",)))
        assert lawyer.get(LISTED).json()["count"] == 0

    def test_only_experts_browse(self, customer, api):
        assert api.get(LISTED).status_code == 401
        assert client_for(customer).get(LISTED).status_code == 403
        assert client_for(customer).get("/api/v1/me/invitations/").status_code == 403

    def test_another_organizations_applications_are_a_404(self, customer, other_customer):
        project = paid_project(customer)
        url = f"/api/v1/projects/{project.pk}/applications/"
        assert client_for(other_customer).get(url).status_code == 404


class TestListedPay:
    """What a listed project's time per item pays: the estimate and the implied hourly rate."""

    def test_per_task_with_the_customer_estimate(self, customer):
        project = paid_project(customer, price="3.00")
        Project.objects.filter(pk=project.pk).update(estimated_seconds=240)
        [listed] = client_for(factories.expert()).get(LISTED).json()["results"]
        assert {name: listed[name] for name in PAY_FIELDS} == {
            "contract": "per_task", "hourly_rate_after_fee": None, "estimated_seconds": 240,
            "estimate_source": "customer", "implied_hourly_rate": "36.00"}

    def test_per_task_without_an_estimate(self, customer):
        paid_project(customer)
        [listed] = client_for(factories.expert()).get(LISTED).json()["results"]
        assert {name: listed[name] for name in PAY_FIELDS} == {
            "contract": "per_task", "hourly_rate_after_fee": None, "estimated_seconds": None,
            "estimate_source": None, "implied_hourly_rate": None}

    def test_hourly_pays_its_rate_after_the_fee(self, customer):
        hourly_project(customer, rate="50.00")
        client = client_for(factories.expert())
        [listed] = client.get(LISTED).json()["results"]
        assert {name: listed[name] for name in PAY_FIELDS} == {
            "contract": "hourly", "hourly_rate_after_fee": "40.00", "estimated_seconds": None,
            "estimate_source": None, "implied_hourly_rate": "40.00"}
        assert client.get(f"{LISTED}{listed['id']}/").json()["implied_hourly_rate"] == "40.00"

    def test_measured_time_replaces_the_estimate_for_the_whole_page_at_once(
            self, customer, settings, django_assert_max_num_queries):
        settings.ESTIMATE_MIN_APPROVED = 2
        measured = paid_project(customer, price="1.00")
        Project.objects.filter(pk=measured.pk).update(estimated_seconds=600)
        for item, seconds in zip(measured.items.order_by("pk"), (30, 50), strict=False):
            answer = factories.recorded_answer(measured, item, factories.expert(),
                                               {"better": "A"})
            Assignment.objects.filter(pk=answer.assignment_id).update(duration_s=seconds)
        for _ in range(3):
            paid_project(customer)
        client = client_for(factories.expert())
        client.get(LISTED)
        with django_assert_max_num_queries(6):
            listed = {row["id"]: row for row in client.get(LISTED).json()["results"]}
        assert (listed[measured.pk]["estimated_seconds"], listed[measured.pk]["estimate_source"],
                listed[measured.pk]["implied_hourly_rate"]) == (40, "measured", "72.00")
