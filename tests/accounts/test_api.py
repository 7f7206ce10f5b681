import pytest
from django.contrib.auth import get_user_model

from accounts.models import Domain, Expertise, ExpertProfile, Membership
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
User = get_user_model()

EXPERT_SIGNUP = {
    "username": "dr_house",
    "email": "house@example.com",
    "password": "Vicodin-and-Lupus-42",
    "full_name": "Gregory House",
    "highest_degree": "md",
    "field_of_study": "Nephrology and infectious disease",
    "domains": ["medicine", "medicine-cardiology"],
    "languages": ["en", "ES"],
}


def test_domains_are_a_two_level_tree_of_at_least_thirty(api, expert):
    response = client_for(expert).get("/api/v1/domains/?page_size=1000")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) >= 30
    by_slug = {row["slug"]: row for row in rows}
    assert by_slug["medicine"]["parent"] is None
    assert by_slug["medicine-cardiology"]["parent"] == "medicine"
    assert {row["parent"] for row in rows} - {None} <= set(by_slug)


def test_anonymous_gets_401_on_protected_endpoints(api):
    for path in ["/api/v1/me/", "/api/v1/domains/", "/api/v1/orgs/", "/api/v1/experts/1/"]:
        response = api.get(path)
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"] == "Token"


def test_expert_signup_token_me_and_verification_over_http(api, staff):
    response = api.post("/api/v1/auth/signup/expert/", EXPERT_SIGNUP, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["expert_profile"]["verification"] == "pending"
    assert body["expert_profile"]["languages"] == ["en", "es"]
    assert "password" not in body
    expert_id = body["id"]

    response = api.post("/api/v1/auth/token/", {"username": "dr_house",
                                                "password": EXPERT_SIGNUP["password"]})
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/").json()
    assert me["username"] == "dr_house"
    assert {e["domain"]: e["level"] for e in me["expert_profile"]["expertise"]} == {
        "medicine": "claimed", "medicine-cardiology": "claimed"}

    response = client_for(staff).post(f"/api/v1/experts/{expert_id}/verify/",
                                      {"verification": "verified"}, format="json")
    assert response.status_code == 200
    assert response.json()["verification"] == "verified"
    profile = ExpertProfile.objects.get(pk=expert_id)
    assert profile.verified_by == staff and profile.verified_at is not None
    assert api.get("/api/v1/me/").json()["expert_profile"]["verification"] == "verified"


def test_tokens_are_stored_hashed(api):
    user = factories.customer()
    response = api.post("/api/v1/auth/token/", {"username": user.username,
                                                "password": factories.PASSWORD})
    token = response.json()["token"]
    from knox.models import AuthToken

    stored = AuthToken.objects.get(user=user)
    assert token not in stored.digest
    assert not AuthToken.objects.filter(digest=token).exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"domains": ["medicine", "astrology"]}, "domains"),
    ({"password": "password"}, "password"),
    ({"password": "dr_house123"}, "password"),
    ({"languages": ["klingon"]}, "languages"),
    ({"highest_degree": "wizard"}, "highest_degree"),
    ({"email": "not-an-email"}, "email"),
    ({"domains": []}, "domains"),
])
def test_expert_signup_names_the_bad_field_and_writes_nothing(api, change, field):
    response = api.post("/api/v1/auth/signup/expert/", {**EXPERT_SIGNUP, **change},
                        format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not User.objects.filter(username="dr_house").exists()


def test_unknown_domain_error_names_the_slug(api):
    response = api.post("/api/v1/auth/signup/expert/",
                        {**EXPERT_SIGNUP, "domains": ["astrology"]}, format="json")
    assert "astrology" in response.json()["domains"][0]


def test_duplicate_username_and_email_are_400(api):
    factories.customer(username="taken")
    response = api.post("/api/v1/auth/signup/expert/",
                        {**EXPERT_SIGNUP, "username": "TAKEN"}, format="json")
    assert response.status_code == 400 and "username" in response.json()
    response = api.post("/api/v1/auth/signup/expert/",
                        {**EXPERT_SIGNUP, "email": "Taken@Example.com"}, format="json")
    assert response.status_code == 400 and "email" in response.json()


def test_customer_signup_makes_an_owner(api):
    response = api.post("/api/v1/auth/signup/customer/", {
        "username": "acme", "email": "ops@acme.test", "password": "Sturdy-Password-77",
        "organization": "Acme AI"}, format="json")
    assert response.status_code == 201, response.json()
    memberships = response.json()["memberships"]
    assert memberships == [{"organization": memberships[0]["organization"],
                            "organization_name": "Acme AI", "role": "owner"}]
    assert response.json()["expert_profile"] is None


def test_customer_signup_rejects_taken_organization_name(api, customer):
    org = factories.organization_of(customer)
    response = api.post("/api/v1/auth/signup/customer/", {
        "username": "newbie", "email": "n@x.test", "password": "Sturdy-Password-77",
        "organization": org.name.upper()}, format="json")
    assert response.status_code == 400 and "organization" in response.json()
    assert not User.objects.filter(username="newbie").exists()


def test_bad_credentials_are_400(api, customer):
    response = api.post("/api/v1/auth/token/", {"username": customer.username,
                                                "password": "wrong"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_token_endpoint_is_throttled(api, customer):
    statuses = [api.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code
                for _ in range(35)]
    assert statuses[0] == 400
    assert statuses[-1] == 429


def test_expert_updates_own_profile_and_adds_domain_claims(expert):
    client = client_for(expert)
    response = client.patch("/api/v1/me/", {
        "first_name": "Ada",
        "expert_profile": {"bio": "Cardiologist", "languages": ["de", "en"],
                           "timezone": "Europe/Berlin", "weekly_availability_hours": 20,
                           "domains": ["law-tax"]}}, format="json")
    assert response.status_code == 200, response.json()
    profile = response.json()["expert_profile"]
    assert profile["bio"] == "Cardiologist" and profile["timezone"] == "Europe/Berlin"
    levels = {e["domain"]: e["level"] for e in profile["expertise"]}
    assert levels["law-tax"] == "claimed"
    assert levels["medicine-cardiology"] == "qualified"


def test_expert_cannot_verify_self_or_set_status_through_me(expert):
    client = client_for(expert)
    response = client.patch("/api/v1/me/", {"expert_profile": {"timezone": "Mars/Olympus"}},
                            format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()["expert_profile"]
    response = client.post(f"/api/v1/experts/{expert.pk}/verify/", {}, format="json")
    assert response.status_code == 403


def test_customer_cannot_patch_expert_profile(customer):
    response = client_for(customer).patch("/api/v1/me/", {"expert_profile": {"bio": "x"}},
                                          format="json")
    assert response.status_code == 400 and "expert_profile" in response.json()


def test_expert_sees_own_profile_and_404_for_others(expert):
    other = factories.expert()
    client = client_for(expert)
    assert client.get(f"/api/v1/experts/{expert.pk}/").status_code == 200
    assert client.get(f"/api/v1/experts/{other.pk}/").status_code == 404


def test_staff_rejects_with_reason_only(staff, expert):
    client = client_for(staff)
    response = client.post(f"/api/v1/experts/{expert.pk}/verify/",
                            {"verification": "rejected"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post(f"/api/v1/experts/{expert.pk}/verify/",
                           {"verification": "rejected", "reason": "Diploma not found"},
                           format="json")
    assert response.status_code == 200
    assert response.json()["verification_reason"] == "Diploma not found"


def test_customer_of_another_org_gets_404_for_orgs_and_members(customer, other_customer):
    org = factories.organization_of(customer)
    client = client_for(other_customer)
    assert client.get(f"/api/v1/orgs/{org.pk}/").status_code == 404
    assert client.get(f"/api/v1/orgs/{org.pk}/members/").status_code == 404
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": other_customer.username, "role": "admin"},
                           format="json")
    assert response.status_code == 404
    assert client.get("/api/v1/orgs/").json()["count"] == 1


def test_owner_manages_members_and_roles(customer):
    org = factories.organization_of(customer)
    newcomer = User.objects.create_user("newcomer", "nc@example.com", "x")
    client = client_for(customer)
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": "newcomer", "role": "qa_lead"}, format="json")
    assert response.status_code == 201, response.json()
    membership_id = response.json()["id"]
    assert response.json()["role"] == "qa_lead"
    response = client.patch(f"/api/v1/orgs/{org.pk}/members/{membership_id}/",
                            {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    listed = client.get(f"/api/v1/orgs/{org.pk}/members/").json()["results"]
    assert {m["username"]: m["role"] for m in listed} == {customer.username: "owner",
                                                          "newcomer": "admin"}
    assert client.delete(f"/api/v1/orgs/{org.pk}/members/{membership_id}/").status_code == 204
    assert not Membership.objects.filter(user=newcomer).exists()


def test_member_errors_name_the_field(customer, expert):
    org = factories.organization_of(customer)
    client = client_for(customer)
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": "ghost", "role": "admin"}, format="json")
    assert response.status_code == 400 and "username" in response.json()
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": customer.username, "role": "boss"}, format="json")
    assert response.status_code == 400 and "role" in response.json()
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": customer.username, "role": "admin"}, format="json")
    assert response.status_code == 400 and "username" in response.json()
    response = client.post(f"/api/v1/orgs/{org.pk}/members/",
                           {"username": expert.username, "role": "member"}, format="json")
    assert response.status_code == 400 and "username" in response.json()


def test_last_owner_cannot_leave_or_be_demoted(customer):
    org = factories.organization_of(customer)
    membership = Membership.objects.get(user=customer)
    client = client_for(customer)
    response = client.patch(f"/api/v1/orgs/{org.pk}/members/{membership.pk}/",
                            {"role": "member"}, format="json")
    assert response.status_code == 400 and "role" in response.json()
    assert client.delete(f"/api/v1/orgs/{org.pk}/members/{membership.pk}/").status_code == 400


def test_admin_cannot_make_owners_and_members_cannot_manage(customer):
    org = factories.organization_of(customer)
    admin = factories.member(org, role="admin")
    plain = factories.member(org, role="member")
    response = client_for(admin).post(f"/api/v1/orgs/{org.pk}/members/",
                                      {"username": plain.username, "role": "owner"},
                                      format="json")
    assert response.status_code in (400, 403)
    plain_membership = Membership.objects.get(user=plain)
    response = client_for(admin).patch(
        f"/api/v1/orgs/{org.pk}/members/{plain_membership.pk}/", {"role": "owner"},
        format="json")
    assert response.status_code == 403
    response = client_for(plain).patch(
        f"/api/v1/orgs/{org.pk}/members/{plain_membership.pk}/", {"role": "admin"},
        format="json")
    assert response.status_code == 403
    assert client_for(plain).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200


def test_staff_sees_every_organization_and_expert(staff, customer, other_customer, expert):
    client = client_for(staff)
    assert client.get("/api/v1/orgs/").json()["count"] >= 2
    assert client.get(f"/api/v1/experts/{expert.pk}/").status_code == 200


def test_qualified_expertise_keeps_its_best_score(expert):
    from decimal import Decimal

    from accounts import services

    profile = expert.expert_profile
    domain = Domain.objects.get(slug="medicine-cardiology")
    services.qualify_expertise(expert=profile, domain=domain, score=Decimal("0.9"),
                               source="test")
    services.qualify_expertise(expert=profile, domain=domain, score=Decimal("0.7"),
                               source="test")
    assert Expertise.objects.get(expert=profile, domain=domain).qualification_score == \
        Decimal("0.9")
