from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command

from accounts.demo import DEMO_PASSWORD, EXPERTS
from accounts.models import Credential, Expertise, ExpertProfile, Membership, Organization

pytestmark = pytest.mark.django_db
User = get_user_model()
MODELS = [User, Organization, Membership, ExpertProfile, Credential, Expertise]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Counts, plus the timestamps a careless second run would bump."""
    return {
        **{model.__name__: model.objects.count() for model in MODELS},
        "verified_at": sorted(ExpertProfile.objects.values_list("verified_at", flat=True)),
        "reviewed_at": sorted(Credential.objects.values_list("reviewed_at", flat=True)),
        "qualified_at": sorted(Expertise.objects.values_list("qualified_at", flat=True)),
    }


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_running_twice_changes_nothing(debug):
    first_output = seed()
    first = snapshot()
    second_output = seed()
    assert snapshot() == first
    assert first["ExpertProfile"] == len(EXPERTS) == 15
    assert first_output == second_output
    assert DEMO_PASSWORD in second_output


def test_every_role_has_a_user(debug):
    seed()
    operator = User.objects.get(username="operator")
    assert operator.is_staff and operator.is_superuser
    organization = Organization.objects.get(name="Acme AI")
    assert {m.user.username: m.role for m in organization.memberships.all()} == {
        "acme-owner": "owner", "acme-qa": "qa_lead"}


def test_experts_are_verified_with_credentials_and_qualified_domains(debug):
    seed()
    for spec in EXPERTS:
        profile = ExpertProfile.objects.get(user__username=spec.username)
        assert profile.can_work
        assert profile.verified_by.username == "operator"
        assert profile.bio and profile.languages and profile.timezone != "UTC"
        assert [c.status for c in profile.credentials.all()] == ["verified"]
        qualified = set(profile.expertise.filter(level="qualified")
                        .values_list("domain__slug", flat=True))
        assert qualified == set(spec.domains), spec.username


def test_demo_password_passes_the_validators(debug):
    seed()
    for user in User.objects.all():
        validate_password(DEMO_PASSWORD, user=user)


def test_demo_logins_get_tokens(debug, api):
    output = seed()
    for username in ["operator", "acme-owner", "acme-qa", "expert01", "expert15"]:
        assert username in output
        response = api.post("/api/v1/auth/token/", {"username": username,
                                                    "password": DEMO_PASSWORD})
        assert response.status_code == 200, (username, response.json())
        assert response.json()["token"]


def test_completes_a_half_seeded_database(debug):
    seed()
    profile = ExpertProfile.objects.get(user__username="expert03")
    profile.credentials.all().delete()
    profile.expertise.update(level=Expertise.Level.CLAIMED)
    Membership.objects.filter(user__username="acme-qa").delete()
    seed()
    profile.refresh_from_db()
    assert profile.credentials.get().status == "verified"
    assert set(profile.expertise.values_list("level", flat=True)) == {"qualified"}
    assert Membership.objects.get(user__username="acme-qa").role == "qa_lead"


def test_refuses_to_seed_production_without_being_told():
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert not User.objects.exists()
    call_command("seed_demo", "--allow-without-debug", stdout=StringIO())
    assert User.objects.filter(username="operator").exists()
