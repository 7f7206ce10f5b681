"""The calibration page: what it does in words, switching it on and off, refusals on the
field, and who may change it."""

import pytest

from accounts.models import Membership
from quality.models import QualityRule
from tests import factories
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(customer):
    return factories.project(customer, items=2, gold=20)


def url(project) -> str:
    return f"/workspace/projects/{project.pk}/calibration/"


NUMBERS = {"gold_first": "4", "gold_rate": "0.2", "min_lower_bound": "0.65", "min_gold": "20"}


def test_switch_on_change_and_off(customer, project):
    client = signed_in(customer)
    text = client.get(url(project)).content.decode()
    assert "Calibration checks every new expert against your gold items." in text
    assert "The project has 20 gold items." in text and "Switch on" in text
    response = client.post(url(project), NUMBERS, follow=True)
    text = response.content.decode()
    assert "Calibration is on with these numbers." in text
    assert "first answers <strong>4</strong> gold items" in text and "about 20%" in text
    project.refresh_from_db()
    assert project.gold_first == 4
    assert QualityRule.objects.get(project=project, preset="calibration").active
    response = client.post(f"{url(project)}off/", follow=True)
    assert "Calibration is off." in response.content.decode()
    project.refresh_from_db()
    assert project.gold_first == 0


def test_refusals_show_on_the_field_and_change_nothing(customer, project):
    client = signed_in(customer)
    response = client.post(url(project), {**NUMBERS, "min_gold": "10", "min_lower_bound": "0.7"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"min_gold": [
        "With 10 gold answers even an expert who gets every one right has a lower bound of "
        "0.68, under 0.70, and would be removed: judge on at least 11 gold answers or lower "
        "the bound to 0.68 at most."]}
    response = client.post(url(project), {**NUMBERS, "gold_first": "0"})
    assert list(response.context["form"].errors) == ["gold_first"]
    project.refresh_from_db()
    assert project.gold_first == 0 and not QualityRule.objects.exists()


def test_members_read_it_and_only_review_roles_change_it(customer, project):
    organization = factories.organization_of(customer)
    member = signed_in(factories.member(organization))
    text = member.get(url(project)).content.decode()
    assert "Only the organization's QA leads, owners and admins change calibration." in text
    response = member.post(url(project), NUMBERS, follow=True)
    assert "admins may do this." in response.content.decode()
    project.refresh_from_db()
    assert project.gold_first == 0
    qa_lead = signed_in(factories.member(organization, role=Membership.Role.QA_LEAD))
    qa_lead.post(url(project), NUMBERS)
    project.refresh_from_db()
    assert project.gold_first == 4


def test_the_quality_pages_link_to_it(customer, project):
    text = signed_in(customer).get(f"/workspace/projects/{project.pk}/experts/").content.decode()
    assert f'href="{url(project)}"' in text


def test_another_organization_and_experts_find_nothing(project, expert):
    for outsider in (factories.customer(), expert):
        client = signed_in(outsider)
        assert client.get(url(project)).status_code == 404
        assert client.post(f"{url(project)}off/").status_code == 404
