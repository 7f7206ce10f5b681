"""The sign-up pages: the API's rules, nothing written on refusal, and the same rate."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Expertise, ExpertProfile, Membership, Organization
from tests import factories

User = get_user_model()
EXPERT_URL = "/workspace/signup/expert/"
CUSTOMER_URL = "/workspace/signup/customer/"


def expert_form(**changes) -> dict:
    data = {"username": "new-expert", "email": "new@example.com", "password": factories.PASSWORD,
            "full_name": "Dr. New Expert", "highest_degree": "md",
            "field_of_study": "Cardiology", "domains": ["medicine-cardiology", "medicine"],
            "languages": "en, DE", "timezone": "Europe/Berlin",
            "weekly_availability_hours": "12", "bio": "Cardiologist."}
    data.update(changes)
    return data


def customer_form(**changes) -> dict:
    data = {"username": "new-customer", "email": "buyer@example.com",
            "password": factories.PASSWORD, "organization": "New Lab"}
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_login_page_links_to_both_sign_ups(client):
    response = client.get("/workspace/login/")
    assert EXPERT_URL in response.text and CUSTOMER_URL in response.text


@pytest.mark.django_db
def test_the_expert_form_groups_domains_under_their_parent(client):
    response = client.get(EXPERT_URL)
    assert response.status_code == 200
    group = response.text.index("<label>Medicine</label>")
    assert group < response.text.index('value="medicine-cardiology"') < response.text.index(
        "<label>Physics</label>")


@pytest.mark.django_db
def test_an_expert_signs_up_is_signed_in_and_told_what_comes_next(client):
    response = client.post(EXPERT_URL, expert_form(), follow=True)
    assert response.redirect_chain == [("/workspace/", 302)]
    assert "An operator will verify your account" in response.text
    profile = ExpertProfile.objects.get(user__username="new-expert")
    assert profile.verification == ExpertProfile.Verification.PENDING
    assert profile.languages == ["en", "de"]
    assert profile.timezone == "Europe/Berlin"
    assert profile.weekly_availability_hours == 12
    assert sorted(profile.expertise.values_list("domain__slug", "level")) == [
        ("medicine", Expertise.Level.CLAIMED), ("medicine-cardiology", Expertise.Level.CLAIMED)]
    assert int(client.session["_auth_user_id"]) == profile.user_id


@pytest.mark.django_db
def test_a_customer_signs_up_as_owner_of_a_new_organization(client):
    response = client.post(CUSTOMER_URL, customer_form(), follow=True)
    assert response.redirect_chain == [("/workspace/", 302)]
    assert "you are its owner" in response.text
    membership = Membership.objects.get(user__username="new-customer")
    assert membership.role == Membership.Role.OWNER
    assert membership.organization.name == "New Lab"


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"password": "short"}, "password", "too short"),
    ({"password": "new-expert"}, "password", "too similar"),
    ({"username": "bad name!"}, "username", "letters, digits"),
    ({"username": "TAKEN"}, "username", "username already exists"),
    ({"email": "Taken@Example.com"}, "email", "email already exists"),
    ({"email": "not-an-email"}, "email", "valid email"),
    ({"domains": []}, "domains", "required"),
    ({"domains": ["astrology"]}, "domains", "not one of the available choices"),
    ({"languages": "en, klingon"}, "languages", "klingon"),
    ({"timezone": "Mars/Olympus"}, "timezone", "not one of the available choices"),
    ({"weekly_availability_hours": "200"}, "weekly_availability_hours", "168"),
    ({"highest_degree": "wizard"}, "highest_degree", "not one of the available choices"),
])
def test_bad_expert_input_names_the_field_and_writes_nothing(client, changes, field, message):
    factories.customer(username="taken")
    User.objects.filter(username="taken").update(email="taken@example.com")
    users = User.objects.count()
    response = client.post(EXPERT_URL, expert_form(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert message in response.text or message.replace("'", "&#x27;") in response.text
    assert User.objects.count() == users
    assert not ExpertProfile.objects.filter(full_name="Dr. New Expert").exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_organization_name_taken_in_another_case_is_refused(client):
    factories.customer(organization="Acme Labs")
    response = client.post(CUSTOMER_URL, customer_form(organization="ACME labs"))
    assert response.status_code == 200
    assert "ask its owner to add you" in " ".join(response.context["form"].errors["organization"])
    assert not User.objects.filter(username="new-customer").exists()
    assert Organization.objects.count() == 1


@pytest.mark.django_db
def test_sign_ups_from_one_address_are_held_to_the_api_rate(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"signup": "2/hour"}}
    assert client.post(CUSTOMER_URL, customer_form(password="x")).status_code == 200
    assert client.post(CUSTOMER_URL, customer_form(password="x")).status_code == 200
    refused = client.post(CUSTOMER_URL, customer_form())
    assert refused.status_code == 429
    assert "Too many sign-ups" in refused.text
    assert not User.objects.filter(username="new-customer").exists()
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert other_address.post(CUSTOMER_URL, customer_form()).status_code == 302


@pytest.mark.django_db
def test_the_sign_up_page_runs_a_bounded_number_of_queries(client,
                                                          django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        client.get(EXPERT_URL)
    with django_assert_max_num_queries(22):
        client.post(EXPERT_URL, expert_form())
