"""The expert's profile page: details, credentials with uploaded evidence, domains; and the
operators' admin that opens the evidence."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import Credential, Domain, Expertise, ExpertProfile
from tests import factories
from tests.web.clients import signed_in

URL = "/workspace/profile/"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def details(**changes) -> dict:
    data = {"full_name": "Dr. Renamed", "highest_degree": "md", "field_of_study": "Oncology",
            "languages": "en, fr", "timezone": "Europe/Paris",
            "weekly_availability_hours": "20", "bio": "Twenty years in oncology."}
    data.update(changes)
    return data


def credential(**changes) -> dict:
    data = {"degree": "md", "field": "Medicine", "institution": "Charité", "year": "2004",
            "evidence_file": SimpleUploadedFile("diploma.pdf", PDF, "application/pdf")}
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_profile_is_for_experts_only(customer):
    assert signed_in(customer).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302


@pytest.mark.django_db
def test_the_profile_shows_verification_status_domains_and_credentials(
        django_assert_max_num_queries):
    user = factories.expert(domains=("medicine-cardiology", "medicine-oncology", "law-tax"),
                            verified=False, qualified=False)
    profile = user.expert_profile
    operator = factories.staff_user()
    services.set_verification(expert=profile, actor=operator, verification="rejected",
                              reason="Your licence number did not match the registry.")
    services.qualify_expertise(expert=profile, domain=Domain.objects.get(slug="law-tax"),
                               score=None, source="operator")
    Expertise.objects.filter(expert=profile, domain__slug="medicine-oncology").update(
        suspended_until=timezone.now() + timezone.timedelta(days=3),
        suspension_reason="Gold accuracy fell below 60%.")
    for year in (2001, 2005, 2010):
        made = services.add_credential(profile, degree="md", institution=f"School {year}",
                                       year=year, evidence_file=SimpleUploadedFile(
                                           "scan.png", PNG, "image/png"))
    services.review_credential(credential=made, actor=operator, status="rejected",
                               notes="The scan is unreadable.")
    client = signed_in(user)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    text = response.text
    assert response.status_code == 200
    assert "Rejected" in text and "did not match the registry" in text
    assert "Tax law" in text and "Qualified" in text and "Claimed" in text
    assert "Gold accuracy fell below 60%." in text
    assert "School 2001" in text and "The scan is unreadable." in text
    assert 'name="verification"' not in text and 'name="status"' not in text


@pytest.mark.django_db
def test_an_expert_edits_their_details(expert):
    response = signed_in(expert).post(URL, details(), follow=True)
    assert "Your profile is saved." in response.text
    profile = ExpertProfile.objects.get(pk=expert.pk)
    assert (profile.full_name, profile.highest_degree, profile.languages, profile.timezone,
            profile.weekly_availability_hours) == (
        "Dr. Renamed", "md", ["en", "fr"], "Europe/Paris", 20)


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field"), [
    ({"full_name": ""}, "full_name"),
    ({"languages": "en, xx-nonsense"}, "languages"),
    ({"weekly_availability_hours": "-1"}, "weekly_availability_hours"),
    ({"timezone": "Nowhere/Land"}, "timezone"),
])
def test_bad_details_are_refused_by_field_and_change_nothing(expert, changes, field):
    before = ExpertProfile.objects.values().get(pk=expert.pk)
    response = signed_in(expert).post(URL, details(**changes))
    assert response.status_code == 200
    assert field in response.context["details"].errors
    assert "errorlist" in response.text
    assert ExpertProfile.objects.values().get(pk=expert.pk) == before


@pytest.mark.django_db
def test_verification_and_status_cannot_be_posted(expert):
    profile = expert.expert_profile
    ExpertProfile.objects.filter(pk=profile.pk).update(verification="pending")
    signed_in(expert).post(URL, details(verification="verified", status="active"))
    assert ExpertProfile.objects.get(pk=profile.pk).verification == "pending"


@pytest.mark.django_db
def test_a_credential_is_uploaded_stored_and_opened_by_its_owner_only(expert, settings):
    client = signed_in(expert)
    response = client.post("/workspace/profile/credentials/", credential(), follow=True)
    assert "an operator will review its evidence" in response.text
    stored = Credential.objects.get(expert__user=expert)
    assert stored.status == Credential.Status.PENDING
    assert stored.evidence_file.name.startswith(f"credentials/{expert.pk}/")
    assert stored.evidence_file.name.endswith(".pdf")
    assert (settings.MEDIA_ROOT / stored.evidence_file.name).read_bytes() == PDF
    evidence_url = f"/workspace/profile/credentials/{stored.pk}/evidence/"
    assert evidence_url in response.text
    opened = client.get(evidence_url)
    assert opened["Content-Type"] == "application/pdf"
    assert opened["Content-Security-Policy"] == "sandbox"
    assert b"".join(opened.streaming_content) == PDF
    assert signed_in(factories.expert()).get(evidence_url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(("upload", "message"), [
    (SimpleUploadedFile("setup.exe", b"MZ\x90\x00", "application/octet-stream"),
     "Upload a PDF, PNG or JPEG file"),
    (SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"),
     "does not look like a PDF file"),
    (SimpleUploadedFile("huge.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf"),
     "the limit is 10 MB"),
])
def test_bad_evidence_is_refused_with_its_reason_and_nothing_is_stored(expert, settings,
                                                                      upload, message):
    response = signed_in(expert).post("/workspace/profile/credentials/",
                                      credential(evidence_file=upload))
    assert response.status_code == 200
    assert message in " ".join(response.context["credential_form"].errors["evidence_file"])
    assert not Credential.objects.exists()
    assert not any(settings.MEDIA_ROOT.rglob("*.*"))


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field"), [
    ({"evidence_file": ""}, "evidence_file"),
    ({"year": "1850"}, "year"),
    ({"institution": ""}, "institution"),
    ({"degree": "wizard"}, "degree"),
])
def test_a_credential_form_missing_parts_names_them(expert, changes, field):
    response = signed_in(expert).post("/workspace/profile/credentials/", credential(**changes))
    assert field in response.context["credential_form"].errors
    assert not Credential.objects.exists()


@pytest.mark.django_db
def test_an_expert_claims_more_domains_and_keeps_their_qualifications(expert):
    client = signed_in(expert)
    response = client.get(URL)
    assert 'value="medicine-cardiology"' not in response.text
    response = client.post("/workspace/profile/domains/",
                           {"domains": ["medicine-oncology", "law"]}, follow=True)
    assert "Domains added as claims" in response.text
    levels = dict(Expertise.objects.filter(expert__user=expert)
                  .values_list("domain__slug", "level"))
    assert levels == {"medicine-cardiology": "qualified", "medicine-oncology": "claimed",
                      "law": "claimed"}
    refused = client.post("/workspace/profile/domains/", {"domains": ["astrology"]})
    assert "domains" in refused.context["claim_form"].errors


@pytest.mark.django_db
def test_the_admin_links_the_evidence_for_operators_only(expert, admin_client):
    client = signed_in(expert)
    client.post("/workspace/profile/credentials/", credential())
    stored = Credential.objects.get()
    evidence_url = f"/admin/accounts/credential/{stored.pk}/evidence/"
    for page in (f"/admin/accounts/expertprofile/{expert.pk}/change/",
                 f"/admin/accounts/credential/{stored.pk}/change/",
                 "/admin/accounts/credential/"):
        assert evidence_url in admin_client.get(page).text, page
    opened = admin_client.get(evidence_url)
    assert b"".join(opened.streaming_content) == PDF
    assert client.get(evidence_url).status_code == 302


@pytest.mark.django_db
def test_an_operator_rejects_a_credential_with_a_reason_the_expert_reads(expert, admin_client):
    client = signed_in(expert)
    client.post("/workspace/profile/credentials/", credential())
    stored = Credential.objects.get()
    admin_client.post("/admin/accounts/credential/", {
        "action": "reject", "_selected_action": [stored.pk], "apply": "1",
        "reason": "The institution's name is cut off."})
    stored.refresh_from_db()
    assert stored.status == "rejected" and stored.reviewed_by is not None
    assert "The institution&#x27;s name is cut off." in client.get(URL).text
