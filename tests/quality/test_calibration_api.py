"""A project's calibration over HTTP: read, set, switch off, refusals."""

import pytest

from accounts.models import Membership
from quality.models import QualityRule
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(customer):
    return factories.project(customer, items=2, gold=20)


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/calibration/"


OFF = {"enabled": False, "gold_first": 5, "gold_rate": "0.100", "min_lower_bound": "0.70",
       "min_gold": 20, "removed_experts": 0}


def test_read_set_and_switch_off(customer, project):
    api = client_for(customer)
    assert api.get(url(project)).json() == OFF
    response = api.put(url(project), {"gold_first": 3, "min_lower_bound": "0.6"}, format="json")
    assert response.status_code == 200
    assert response.json() == {**OFF, "enabled": True, "gold_first": 3,
                               "min_lower_bound": "0.60"}
    assert api.get(url(project)).json() == response.json()
    project.refresh_from_db()
    assert project.gold_first == 3
    response = api.delete(url(project))
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    project.refresh_from_db()
    assert project.gold_first == 0
    assert not QualityRule.objects.get(project=project).active


@pytest.mark.parametrize(("body", "field"), [
    ({"gold_first": 0}, "gold_first"), ({"gold_first": 51}, "gold_first"),
    ({"gold_first": "many"}, "gold_first"), ({"gold_rate": "0"}, "gold_rate"),
    ({"gold_rate": "1.5"}, "gold_rate"), ({"min_lower_bound": "1.2"}, "min_lower_bound"),
    ({"min_gold": 0}, "min_gold"), ({"min_gold": 10}, "min_gold"), ({"min_gold": 21}, "min_gold"),
])
def test_bad_numbers_answer_400_on_the_field_and_change_nothing(customer, project, body, field):
    response = client_for(customer).put(url(project), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    project.refresh_from_db()
    assert project.gold_first == 0 and not QualityRule.objects.exists()


def test_a_member_reads_but_only_review_roles_change_it(customer, project):
    organization = factories.organization_of(customer)
    member = client_for(factories.member(organization))
    assert member.get(url(project)).status_code == 200
    assert member.put(url(project), {}, format="json").status_code == 403
    assert member.delete(url(project)).status_code == 403
    qa_lead = client_for(factories.member(organization, role=Membership.Role.QA_LEAD))
    assert qa_lead.put(url(project), {}, format="json").json()["enabled"] is True


def test_others_and_experts_find_no_such_project(project, expert):
    for outsider in (factories.customer(), expert):
        api = client_for(outsider)
        assert api.get(url(project)).status_code == 404
        assert api.put(url(project), {}, format="json").status_code == 404
        assert api.delete(url(project)).status_code == 404
