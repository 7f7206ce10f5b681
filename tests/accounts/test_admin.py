import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.models import Credential, ExpertProfile
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/accounts/expertprofile/"


@pytest.fixture
def cardiologist(staff):
    return factories.expert(domains=("medicine-cardiology",), degree="md",
                            username="heart_doc").expert_profile


@pytest.fixture
def lawyer(staff):
    return factories.expert(domains=("law-contracts",), degree="jd", verified=False,
                            username="contract_lawyer").expert_profile


def listed(response) -> set[str]:
    return {expert.user.username for expert in response.context["cl"].result_list}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"heart_doc", "contract_lawyer"}),
    ("?verification__exact=pending", {"contract_lawyer"}),
    ("?verification__exact=verified", {"heart_doc"}),
    ("?highest_degree__exact=md", {"heart_doc"}),
    ("?status__exact=active", {"heart_doc", "contract_lawyer"}),
    ("?domain=law-contracts", {"contract_lawyer"}),
    ("?q=heart", {"heart_doc"}),
    ("?q=contract_lawyer%40example.com", {"contract_lawyer"}),
])
def test_expert_changelist_filters_and_search(admin_client, cardiologist, lawyer, query,
                                              expected):
    response = admin_client.get(CHANGELIST + query)
    assert response.status_code == 200
    assert listed(response) == expected


def run_action(client, action, experts, **extra):
    return client.post(CHANGELIST, {"action": action,
                                    ACTION_CHECKBOX_NAME: [e.pk for e in experts], **extra})


def test_verify_action_records_who_and_when(admin_client, staff, lawyer):
    response = run_action(admin_client, "verify", [lawyer])
    assert response.status_code == 302
    lawyer.refresh_from_db()
    assert lawyer.verification == ExpertProfile.Verification.VERIFIED
    assert lawyer.verified_by == staff and lawyer.verified_at is not None


def test_reject_action_asks_for_a_reason_then_applies_it(admin_client, staff, lawyer,
                                                         cardiologist):
    response = run_action(admin_client, "reject", [lawyer, cardiologist])
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    lawyer.refresh_from_db()
    assert lawyer.verification == ExpertProfile.Verification.PENDING

    response = run_action(admin_client, "reject", [lawyer, cardiologist], apply="1",
                          reason="")
    assert response.status_code == 200
    assert response.context["form"].errors
    lawyer.refresh_from_db()
    assert lawyer.verification == ExpertProfile.Verification.PENDING

    response = run_action(admin_client, "reject", [lawyer, cardiologist], apply="1",
                          reason="The bar registry has no such member.")
    assert response.status_code == 302
    for expert in (lawyer, cardiologist):
        expert.refresh_from_db()
        assert expert.verification == ExpertProfile.Verification.REJECTED
        assert expert.verification_reason == "The bar registry has no such member."
        assert expert.verified_by == staff and expert.verified_at is not None


def test_suspend_action_asks_for_a_reason_then_applies_it(admin_client, cardiologist):
    response = run_action(admin_client, "suspend", [cardiologist])
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()

    response = run_action(admin_client, "suspend", [cardiologist], apply="1",
                          reason="Copied answers from a chatbot.")
    assert response.status_code == 302
    cardiologist.refresh_from_db()
    assert cardiologist.status == ExpertProfile.Status.SUSPENDED
    assert cardiologist.status_reason == "Copied answers from a chatbot."
    assert not cardiologist.can_work

    assert run_action(admin_client, "reinstate", [cardiologist]).status_code == 302
    cardiologist.refresh_from_db()
    assert cardiologist.status == ExpertProfile.Status.ACTIVE and cardiologist.can_work


def test_change_page_shows_credentials_and_expertise(admin_client, cardiologist):
    Credential.objects.create(expert=cardiologist, degree="md", field="Cardiology",
                              institution="Karolinska Institutet", year=2012)
    response = admin_client.get(f"{CHANGELIST}{cardiologist.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Karolinska Institutet" in page
    assert "credentials-TOTAL_FORMS" in page
    assert "expertise-TOTAL_FORMS" in page


def test_organization_change_page_shows_members(admin_client, customer):
    organization = factories.organization_of(customer)
    qa_lead = factories.member(organization, role="qa_lead", username="qa_person")
    response = admin_client.get(f"/admin/accounts/organization/{organization.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert customer.username in page and qa_lead.username in page
    assert "memberships-TOTAL_FORMS" in page


def test_organization_changelist_counts_members(admin_client, customer):
    response = admin_client.get("/admin/accounts/organization/")
    assert response.status_code == 200
    assert factories.organization_of(customer).name in response.content.decode()


def test_credential_admin_lists_and_filters(admin_client, cardiologist):
    Credential.objects.create(expert=cardiologist, degree="md", institution="Uppsala",
                              year=2010)
    response = admin_client.get("/admin/accounts/credential/?status__exact=pending")
    assert response.status_code == 200
    assert "Uppsala" in response.content.decode()
