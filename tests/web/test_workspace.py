"""The workspace's frame: who may enter, what their menu holds, and how a service's refusal
reaches a page."""

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import CharField, Form
from django.test import RequestFactory
from django.urls import reverse

from config.exceptions import Conflict
from config.workspace import FAILED, Audience, audiences, perform, site
from tests import factories
from tests.web.clients import signed_in


@pytest.mark.django_db
def test_the_workspace_asks_for_a_login_first(client):
    answer = client.get("/workspace/")
    assert answer.status_code == 302
    assert answer["Location"] == "/workspace/login/?next=/workspace/"


@pytest.mark.django_db
def test_a_user_who_is_not_staff_signs_in_where_the_admin_refuses_them(client, customer):
    form = {"username": customer.username, "password": factories.PASSWORD}
    refused = client.post("/admin/login/", form)
    assert refused.status_code == 200 and "staff account" in refused.text
    answer = client.post("/workspace/login/?next=/workspace/", form)
    assert answer.status_code == 302 and answer["Location"] == "/workspace/"
    assert client.get("/workspace/").status_code == 200


@pytest.mark.django_db
def test_an_inactive_user_cannot_sign_in(client, customer):
    customer.is_active = False
    customer.save()
    answer = client.post("/workspace/login/",
                         {"username": customer.username, "password": factories.PASSWORD})
    assert answer.status_code == 200 and "correct username and password" in answer.text


@pytest.mark.django_db
def test_audiences_follow_roles(staff):
    owner = factories.customer()
    organization = factories.organization_of(owner)
    assert audiences(owner) == {Audience.CUSTOMER, Audience.REVIEWER}
    assert audiences(factories.member(organization)) == {Audience.CUSTOMER}
    assert audiences(factories.member(organization, role="qa_lead")) == {
        Audience.CUSTOMER, Audience.REVIEWER}
    assert audiences(factories.expert()) == {Audience.EXPERT}
    assert audiences(staff) == {Audience.REVIEWER, Audience.STAFF}


@pytest.mark.django_db
def test_the_menu_holds_only_the_pages_of_the_users_audiences():
    expert = factories.expert()
    context = signed_in(expert).get("/workspace/").context
    assert context["menu"], "an expert has pages"
    assert {entry.audience for entry in context["menu"]} == {Audience.EXPERT}
    for entry in site.menu:
        assert entry.url_name.startswith("workspace:")


@pytest.mark.django_db
def test_every_menu_page_opens_for_its_audience_and_is_refused_to_others(staff):
    """An expert is no customer and a customer no expert: each is refused the other's pages
    (operators may be let into customers' pages to help them, so they are not asked)."""
    owner = factories.customer()
    users = {Audience.EXPERT: factories.expert(), Audience.CUSTOMER: owner,
             Audience.REVIEWER: factories.member(factories.organization_of(owner),
                                                 role="qa_lead"),
             Audience.STAFF: staff}
    clients = {audience: signed_in(user) for audience, user in users.items()}
    outsider = {Audience.EXPERT: clients[Audience.CUSTOMER]}
    for entry in site.menu:
        url = reverse(entry.url_name)
        assert clients[entry.audience].get(url, follow=True).status_code == 200, entry
        refused = outsider.get(entry.audience, clients[Audience.EXPERT])
        assert refused.get(url).status_code == 403, entry


def _request():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


class NameForm(Form):
    name = CharField()


def test_perform_returns_the_service_result_and_says_so():
    request = _request()
    assert perform(request, lambda value: value * 2, 21, success="Done.") == 42
    assert [m.message for m in messages.get_messages(request)] == ["Done."]


@pytest.mark.parametrize("error", [PermissionDenied("Not yours."), Conflict("Not now."),
                                   ValidationError("Bad.")])
def test_perform_turns_a_refusal_into_a_message(error):
    request = _request()

    def refuse():
        raise error

    assert perform(request, refuse, success="Done.") is FAILED
    assert not FAILED
    assert [m.level for m in messages.get_messages(request)] == [messages.ERROR]


def test_perform_puts_field_errors_on_the_form():
    form = NameForm(data={"name": "x"})
    assert form.is_valid()

    def refuse():
        raise ValidationError({"name": ["Taken."], "other": ["Elsewhere."]})

    assert perform(_request(), refuse, form=form) is FAILED
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Elsewhere."]
