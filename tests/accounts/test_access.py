"""The access policy: what each role may do, asked of ``accounts.access`` and of every surface
that serves people.

The role x operation matrix states the documented rule for each representative operation
once (``Operation.roles``), checks that ``access.may`` agrees with it, then performs the
operation through each surface as each kind of user and checks the answer: allowed for the
roles the rule names and for operators, refused (403) for the organization's other roles,
hidden (404) for everyone outside the organization, experts included.

A surface is a way in: the REST API and the workspace's pages. Each has a classifier in
``SURFACES`` (how its answers read as an :class:`Outcome`) and a performer under the same key
in each ``Operation.perform``; operations a surface does not offer (the pages write no quality
rules and manage no members) are left out of that surface's rows.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import count

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse

from accounts import access
from accounts.access import Action
from accounts.models import Membership, Organization
from marketplace import pseudonyms
from marketplace import services as market_services
from tests import factories
from tests.conftest import client_for
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db
Role = Membership.Role
_names = count(1)


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"
    HIDDEN = "hidden"


@dataclass
class Scene:
    """One customer organization with a member of each role and a running project, another
    organization, an expert, an operator, and an expert who worked on the project."""

    organization: Organization
    project: object
    users: dict[str, object]
    worker: object


WHO = ["owner", "admin", "qa_lead", "member", "outsider", "expert", "staff"]


@pytest.fixture
def scene(db) -> Scene:
    owner = factories.customer()
    organization = factories.organization_of(owner)
    users = {
        "owner": owner,
        "admin": factories.member(organization, role=Role.ADMIN),
        "qa_lead": factories.member(organization, role=Role.QA_LEAD),
        "member": factories.member(organization, role=Role.MEMBER),
        "outsider": factories.customer(),
        "expert": factories.expert(),
        "staff": factories.staff_user(),
    }
    project = factories.project(owner, items=3)
    return Scene(organization=organization, project=project, users=users,
                 worker=factories.expert())


# The REST API.

def api_outcome(response: HttpResponse) -> Outcome:
    if 200 <= response.status_code < 300:
        return Outcome.ALLOWED
    outcome = {403: Outcome.REFUSED, 404: Outcome.HIDDEN}.get(response.status_code)
    assert outcome is not None, (response.status_code, response.content[:500])
    return outcome


def api_read_project(scene: Scene, user) -> HttpResponse:
    return client_for(user).get(f"/api/v1/projects/{scene.project.pk}/")


def api_edit_project(scene: Scene, user) -> HttpResponse:
    return client_for(user).patch(f"/api/v1/projects/{scene.project.pk}/",
                                  {"name": "Renamed"}, format="json")


def api_upload_batch(scene: Scene, user) -> HttpResponse:
    rows = [{"external_id": f"new-{next(_names)}", "data": factories.preference_data(9)}]
    return client_for(user).post(f"/api/v1/projects/{scene.project.pk}/batches/", rows,
                                 format="json")


def api_review_annotation(scene: Scene, user) -> HttpResponse:
    annotation = factories.answered(scene.worker, scene.project)
    return client_for(user).post(f"/api/v1/annotations/{annotation.pk}/review/",
                                 {"verdict": "accept"}, format="json")


def api_create_quality_rule(scene: Scene, user) -> HttpResponse:
    return client_for(user).post(
        f"/api/v1/projects/{scene.project.pk}/rules/",
        {"metric": "skip_rate", "comparator": "gt", "value": "0.5", "action": "flag"},
        format="json")


def api_add_member(scene: Scene, user) -> HttpResponse:
    newcomer = factories.customer()
    return client_for(user).post(f"/api/v1/orgs/{scene.organization.pk}/members/",
                                 {"username": newcomer.username, "role": "member"},
                                 format="json")


def api_add_webhook(scene: Scene, user) -> HttpResponse:
    return client_for(user).post(f"/api/v1/projects/{scene.project.pk}/webhooks/",
                                 {"url": "https://hooks.example.com/done",
                                  "events": ["item.completed"]}, format="json")


def api_invite_expert(scene: Scene, user) -> HttpResponse:
    return client_for(user).post(f"/api/v1/projects/{scene.project.pk}/invitations/",
                                 {"expert": pseudonyms.encode(scene.worker.pk)}, format="json")


def api_accept_application(scene: Scene, user) -> HttpResponse:
    application = market_services.apply_to_project(project=scene.project, expert=scene.worker)
    return client_for(user).post(
        f"/api/v1/projects/{scene.project.pk}/applications/{application.pk}/accept/")


def api_request_report(scene: Scene, user) -> HttpResponse:
    return client_for(user).post(f"/api/v1/projects/{scene.project.pk}/reports/")


def api_read_statement(scene: Scene, user) -> HttpResponse:
    return client_for(user).get(f"/api/v1/orgs/{scene.organization.pk}/statement/")


# The workspace's pages.

def web_outcome(response: HttpResponse) -> Outcome:
    """A page hides what a user may not see (404); it refuses a role with 403, or by showing
    the page again with the service's reason. A user who is not a customer at all is turned
    away from the whole customer console (403) before any object is looked up, which shows
    no more than a 404 would."""
    user = response.wsgi_request.user
    if response.status_code == 404:
        return Outcome.HIDDEN
    if response.status_code == 403:
        return Outcome.REFUSED if access.roles(user) or user.is_staff else Outcome.HIDDEN
    assert response.status_code in (200, 302), (response.status_code, response.content[:500])
    errors = [m for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]
    if errors or b"errornote" in response.content or b"errorlist" in response.content:
        return Outcome.REFUSED
    return Outcome.ALLOWED


def web_read_project(scene: Scene, user) -> HttpResponse:
    return signed_in(user).get(f"/workspace/projects/{scene.project.pk}/")


def web_edit_project(scene: Scene, user) -> HttpResponse:
    return signed_in(user).post(f"/workspace/projects/{scene.project.pk}/status/",
                                {"action": "pause"})


def web_upload_batch(scene: Scene, user) -> HttpResponse:
    row = {"external_id": f"new-{next(_names)}", "data": factories.preference_data(9)}
    upload = SimpleUploadedFile("rows.jsonl", json.dumps(row).encode())
    return signed_in(user).post(f"/workspace/projects/{scene.project.pk}/batches/",
                                {"file": upload})


def web_review_annotation(scene: Scene, user) -> HttpResponse:
    annotation = factories.answered(scene.worker, scene.project)
    return signed_in(user).post(f"/workspace/review/{annotation.pk}/", {"verdict": "accept"})


def web_add_webhook(scene: Scene, user) -> HttpResponse:
    return signed_in(user).post(f"/workspace/projects/{scene.project.pk}/webhooks/",
                                {"url": "https://hooks.example.com/done",
                                 "events": ["item.completed"]})


def web_invite_expert(scene: Scene, user) -> HttpResponse:
    return signed_in(user).post(
        f"/workspace/organizations/{scene.organization.pk}/applications/",
        {"project": scene.project.pk, "expert": pseudonyms.encode(scene.worker.pk)})


def web_accept_application(scene: Scene, user) -> HttpResponse:
    application = market_services.apply_to_project(project=scene.project, expert=scene.worker)
    return signed_in(user).post(f"/workspace/applications/{application.pk}/decide/",
                                {"decision": "accept"})


def web_request_report(scene: Scene, user) -> HttpResponse:
    return signed_in(user).post(f"/workspace/projects/{scene.project.pk}/reports/run/")


def web_read_statement(scene: Scene, user) -> HttpResponse:
    return signed_in(user).get(f"/workspace/organizations/{scene.organization.pk}/funding/")


# Each surface's way of reading its answers; the key names the surface in the matrix's rows
# and in each operation's ``perform``.
SURFACES: dict[str, Callable[[HttpResponse], Outcome]] = {
    "api": api_outcome,
    "web": web_outcome,
}


@dataclass(frozen=True)
class Operation:
    name: str
    action: Action
    roles: frozenset[str]
    """The documented rule: the organization roles that may, besides operators."""
    perform: dict[str, Callable[[Scene, object], HttpResponse]] = field(default_factory=dict)


EVERYONE = frozenset(Role.values)
EDITORS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
REVIEWERS = frozenset({Role.OWNER, Role.ADMIN, Role.QA_LEAD})
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})

OPERATIONS = [
    Operation("read project", Action.READ, EVERYONE,
              {"api": api_read_project, "web": web_read_project}),
    Operation("edit project", Action.EDIT_PROJECTS, EDITORS,
              {"api": api_edit_project, "web": web_edit_project}),
    Operation("upload batch", Action.EDIT_PROJECTS, EDITORS,
              {"api": api_upload_batch, "web": web_upload_batch}),
    Operation("review annotation", Action.REVIEW, REVIEWERS,
              {"api": api_review_annotation, "web": web_review_annotation}),
    Operation("create quality rule", Action.REVIEW, REVIEWERS,
              {"api": api_create_quality_rule}),
    Operation("manage members", Action.MANAGE, MANAGERS, {"api": api_add_member}),
    Operation("manage webhooks", Action.MANAGE, MANAGERS,
              {"api": api_add_webhook, "web": web_add_webhook}),
    Operation("invite expert", Action.MANAGE, MANAGERS,
              {"api": api_invite_expert, "web": web_invite_expert}),
    Operation("accept application", Action.MANAGE, MANAGERS,
              {"api": api_accept_application, "web": web_accept_application}),
    Operation("request report", Action.READ, EVERYONE,
              {"api": api_request_report, "web": web_request_report}),
    Operation("read statement", Action.READ, EVERYONE,
              {"api": api_read_statement, "web": web_read_statement}),
]


def expected(operation: Operation, who: str) -> Outcome:
    if who == "staff" or who in operation.roles:
        return Outcome.ALLOWED
    if who in Role.values:
        return Outcome.REFUSED
    return Outcome.HIDDEN


MATRIX = [pytest.param(surface, operation, who, id=f"{surface}-{operation.name}-{who}")
          for surface in SURFACES for operation in OPERATIONS if surface in operation.perform
          for who in WHO]


@pytest.mark.parametrize(("surface", "operation", "who"), MATRIX)
def test_role_operation_matrix(scene, surface, operation, who):
    user = scene.users[who]
    outcome = expected(operation, who)
    assert access.may(user, operation.action, scene.organization) == (
        outcome == Outcome.ALLOWED)
    response = operation.perform[surface](scene, user)
    assert SURFACES[surface](response) == outcome


def test_every_action_has_a_representative_operation():
    assert {operation.action for operation in OPERATIONS} == set(Action) - {Action.OPERATE}


def test_the_documented_rules_are_the_policys_role_sets():
    for operation in OPERATIONS:
        assert access.ROLES_FOR[operation.action] == operation.roles, operation.name


# The policy itself.

class TestMay:
    def test_each_role_in_its_own_organization(self, scene):
        for who in ["owner", "admin", "qa_lead", "member"]:
            user = scene.users[who]
            allowed = {action for action in Action
                       if access.may(user, action, scene.organization)}
            assert allowed == {action for action, roles in access.ROLES_FOR.items()
                               if who in roles}, who

    def test_an_organization_may_be_named_by_its_id(self, scene):
        assert access.may(scene.users["qa_lead"], Action.REVIEW, scene.organization.pk)
        assert not access.may(scene.users["qa_lead"], Action.MANAGE, scene.organization.pk)

    def test_a_role_counts_only_in_its_organization(self, scene):
        other = factories.organization_of(scene.users["outsider"])
        assert not access.may(scene.users["owner"], Action.READ, other)
        assert access.may(scene.users["outsider"], Action.MANAGE, other)

    def test_without_an_organization_any_membership_counts(self, scene):
        assert access.may(scene.users["qa_lead"], Action.REVIEW)
        assert not access.may(scene.users["member"], Action.REVIEW)
        assert access.may(scene.users["member"], Action.READ)
        assert not access.may(scene.users["expert"], Action.READ)

    def test_operators_may_everything_and_alone_operate(self, scene):
        for action in Action:
            assert access.may(scene.users["staff"], action, scene.organization)
            assert access.may(scene.users["staff"], action)
        for who in ["owner", "admin", "qa_lead", "member", "expert"]:
            assert not access.may(scene.users[who], Action.OPERATE, scene.organization)

    def test_anonymous_users_may_nothing(self, scene):
        anonymous = AnonymousUser()
        assert not any(access.may(anonymous, action, scene.organization) for action in Action)
        assert access.role_in(anonymous, scene.organization) is None
        assert access.roles(anonymous) == set()


class TestRequire:
    def test_refuses_with_the_actions_message(self, scene):
        with pytest.raises(PermissionDenied, match="owners and admins"):
            access.require(scene.users["member"], Action.MANAGE, scene.organization)
        with pytest.raises(PermissionDenied, match="not a member"):
            access.require(scene.users["outsider"], Action.READ, scene.organization)

    def test_or_with_the_callers_words(self, scene):
        with pytest.raises(PermissionDenied, match=r"^Only operators write tests\.$"):
            access.require(scene.users["owner"], Action.OPERATE,
                           message="Only operators write tests.")

    def test_lets_through_who_may(self, scene):
        access.require(scene.users["qa_lead"], Action.REVIEW, scene.organization)
        access.require(scene.users["staff"], Action.OPERATE)

    def test_require_expert(self, scene):
        access.require_expert(scene.users["expert"])
        with pytest.raises(PermissionDenied, match=r"^Only experts may do this\.$"):
            access.require_expert(scene.users["owner"])
        with pytest.raises(PermissionDenied, match="No earnings"):
            access.require_expert(AnonymousUser(), message="No earnings")


def test_who_is_who(scene):
    users = scene.users
    assert access.role_in(users["qa_lead"], scene.organization) == Role.QA_LEAD
    assert access.role_in(users["outsider"], scene.organization) is None
    assert access.roles(users["admin"]) == {Role.ADMIN}
    assert [who for who in WHO if access.is_expert(users[who])] == ["expert"]
    assert [who for who in WHO if access.is_customer(users[who])] == [
        "owner", "admin", "qa_lead", "member", "outsider"]
    assert [who for who in WHO if access.is_reviewer(users[who])] == [
        "owner", "admin", "qa_lead", "outsider", "staff"]
