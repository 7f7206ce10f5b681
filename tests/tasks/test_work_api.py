import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ExpertProfile
from tasks import services as task_services
from tasks.models import Assignment, Item, ProjectExpert
from tasks.signals import LeaseRefused, assignment_extended, assignment_leased
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
ASSIGNMENTS = "/api/v1/assignments/"
NEXT = ASSIGNMENTS + "next/"
CONTRACT_KEYS = {"id", "project", "item", "questions", "instructions", "status", "expires_at"}
GOLD_REWRITE = "The reference rewrite that only the gold answer holds"


@pytest.fixture
def project(customer):
    return factories.project(customer, items=3, overlap=2, max_overlap=2,
                             instructions="Pick the more accurate answer.")


@pytest.fixture
def client(expert):
    return client_for(expert)


def pull(client, project=None):
    response = client.post(NEXT, {"project": project.pk} if project else {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_next_leases_an_item_in_the_contract_shape(client, project):
    response = client.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert set(data) >= CONTRACT_KEYS
    assert set(data["item"]) == {"id", "data"}
    assert data["project"] == project.pk
    assert data["status"] == "assigned"
    assert data["instructions"] == "Pick the more accurate answer."
    assert [q["name"] for q in data["questions"]] == ["better", "rewrite"]
    assert data["item"]["data"] == Item.objects.get(pk=data["item"]["id"]).data
    assert data["answer"] is None
    expires = Assignment.objects.get(pk=data["id"]).expires_at
    assert data["expires_at"] == expires.isoformat().replace("+00:00", "Z")


def test_the_item_leaves_out_which_model_wrote_each_completion(customer, expert, client):
    fields = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"},
              {"name": "models", "type": "text_list"}]
    project = factories.project(customer, fields=fields, activate=False, questions=[
        {"name": "order", "kind": "ranking", "field": "completions", "models": "models"}])
    data = {"prompt": "p", "completions": ["a", "b"], "models": ["m-1", "m-2"]}
    factories.add_items(project, [data])
    assert pull(client, project)["item"]["data"] == {"prompt": "p", "completions": ["a", "b"]}


def test_next_without_a_body_picks_any_eligible_project(client, project):
    response = client.post(NEXT)
    assert response.status_code == 201
    assert response.json()["project"] == project.pk


def test_nothing_left_answers_204_with_an_empty_body(customer, client):
    project = factories.project(customer, items=1, overlap=1)
    pull(client, project)
    response = client.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 204
    assert response.content == b""
    assert "X-Next-Reason" not in response


def test_projects_that_hold_work_back_say_why_in_a_header(client, project):
    def refuse(sender, assignment, **kwargs):
        raise LeaseRefused("The project's\nbudget is spent.")

    assignment_leased.connect(refuse)
    try:
        response = client.post(NEXT)
    finally:
        assignment_leased.disconnect(refuse)
    assert response.status_code == 204
    assert response["X-Next-Reason"] == f"project {project.pk}: The project's budget is spent."
    assert not Assignment.objects.exists()


def test_unknown_project_is_a_400_on_the_field(client):
    response = client.post(NEXT, {"project": 999999}, format="json")
    assert response.status_code == 400
    assert response.json() == {"project": ["Unknown project."]}


def test_private_and_draft_projects_are_unknown_to_experts_not_let_in(customer, project):
    private = factories.project(customer, items=1, visibility="private")
    draft = factories.project(customer, items=1, activate=False)
    client = client_for(factories.expert())
    for hidden in (private, draft):
        response = client.post(NEXT, {"project": hidden.pk}, format="json")
        assert response.status_code == 400
        assert response.json() == {"project": ["Unknown project."]}


def test_ineligible_experts_get_403_with_the_reason(customer, project):
    lawyer = client_for(factories.expert(domains=("law-contracts",)))
    response = lawyer.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 403
    assert "expertise" in response.json()["detail"]
    assert lawyer.post(NEXT).status_code == 204


def test_a_paused_or_completed_project_has_nothing_to_hand_out(customer, client, project):
    for action, status in [("pause", "paused"), ("complete", "completed")]:
        task_services.transition_project(user=customer, project=project, action=action)
        response = client.post(NEXT, {"project": project.pk}, format="json")
        assert response.status_code == 204, response.content
        assert response["X-Next-Reason"] == f"project {project.pk}: The project is {status}."


def test_unverified_and_suspended_experts_get_403(project):
    pending = factories.expert(verified=False)
    response = client_for(pending).post(NEXT)
    assert response.status_code == 403
    assert "pending" in response.json()["detail"]
    suspended = factories.expert()
    ExpertProfile.objects.filter(user=suspended).update(status="suspended",
                                                        status_reason="Copied answers.")
    response = client_for(suspended).post(NEXT)
    assert response.status_code == 403
    assert "Copied answers." in response.json()["detail"]


def test_customers_and_staff_do_not_pull_work(customer, staff, project):
    for user in [customer, staff]:
        response = client_for(user).post(NEXT, {"project": project.pk}, format="json")
        assert response.status_code == 403
        assert response.json()["detail"] == "Only experts pull work."


def test_the_lease_cap_is_a_409(settings, client, project):
    settings.MAX_ACTIVE_LEASES = 1
    pull(client, project)
    response = client.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "lease_cap"


def test_submit_records_the_answer(client, expert, project):
    leased = pull(client, project)
    response = client.post(f"{ASSIGNMENTS}{leased['id']}/submit/",
                           {"answer": {"better": "B", "rewrite": "Better wording."},
                            "duration_s": 42.5}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "submitted"
    assert data["answer"] == {"better": "B", "rewrite": "Better wording."}
    assert data["duration_s"] == 42.5
    assignment = Assignment.objects.get(pk=leased["id"])
    assert assignment.annotation.answer == data["answer"]
    assert Item.objects.get(pk=leased["item"]["id"]).annotated == 1


def test_invalid_answers_are_400_per_question(client, project):
    leased = pull(client, project)
    url = f"{ASSIGNMENTS}{leased['id']}/submit/"
    response = client.post(url, {"answer": {"better": "C", "mood": "good"}}, format="json")
    assert response.status_code == 400
    messages = response.json()["answer"]
    assert any(m.startswith("better: ") for m in messages)
    assert any(m.startswith("mood: ") for m in messages)
    assert client.post(url, {"answer": "A"}, format="json").status_code == 400
    assert client.post(url, {}, format="json").json() == {"answer": ["This field is required."]}
    response = client.post(url, {"answer": {"better": "A"}, "duration_s": -1}, format="json")
    assert "duration_s" in response.json()
    assert Assignment.objects.get(pk=leased["id"]).status == "assigned"


def test_submitted_skipped_and_expired_assignments_are_409(customer, client):
    project = factories.project(customer, items=3, overlap=1)
    answer = {"answer": {"better": "A"}}
    submitted = pull(client, project)["id"]
    client.post(f"{ASSIGNMENTS}{submitted}/submit/", answer, format="json")
    skipped = pull(client, project)["id"]
    client.post(f"{ASSIGNMENTS}{skipped}/skip/", {}, format="json")
    expired = pull(client, project)["id"]
    Assignment.objects.filter(pk=expired).update(expires_at=timezone.now())
    for pk, code in [(submitted, "already_submitted"), (skipped, "already_skipped"),
                     (expired, "expired")]:
        for action, payload in [("submit", answer), ("skip", {}), ("extend", {})]:
            response = client.post(f"{ASSIGNMENTS}{pk}/{action}/", payload, format="json")
            assert response.status_code == 409, (pk, action)
            assert response.json()["code"] == code


def test_skip_gives_the_slot_back_and_keeps_the_reason(customer, client):
    project = factories.project(customer, items=1, overlap=1)
    leased = pull(client, project)
    response = client.post(f"{ASSIGNMENTS}{leased['id']}/skip/", {"reason": "Not my field."},
                           format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["skip_reason"]) == (
        "skipped", "Not my field.")
    assert Item.objects.get(pk=leased["item"]["id"]).filled == 0
    assert pull(client_for(factories.expert()), project)["item"]["id"] == leased["item"]["id"]
    assert client.post(NEXT, {"project": project.pk}, format="json").status_code == 204


def test_extend_restarts_the_lease_period(client, project):
    leased = pull(client, project)
    Assignment.objects.filter(pk=leased["id"]).update(
        expires_at=timezone.now() + timedelta(seconds=30))
    response = client.post(f"{ASSIGNMENTS}{leased['id']}/extend/")
    assert response.status_code == 200
    expires = Assignment.objects.get(pk=leased["id"]).expires_at
    assert expires > timezone.now() + timedelta(seconds=project.assignment_ttl_s - 60)
    assert response.json()["expires_at"] == expires.isoformat().replace("+00:00", "Z")


def test_list_and_detail_show_only_own_assignments(customer, client, expert, project):
    mine = [pull(client, project)["id"] for _ in range(2)]
    client.post(f"{ASSIGNMENTS}{mine[0]}/submit/", {"answer": {"better": "A"}}, format="json")
    theirs = pull(client_for(factories.expert()), project)["id"]

    def listed(query=""):
        response = client.get(ASSIGNMENTS + query)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert listed() == [mine[1], mine[0]]
    assert listed("?status=submitted") == [mine[0]]
    assert listed("?status=assigned") == [mine[1]]
    assert listed(f"?project={project.pk}") == [mine[1], mine[0]]
    assert client.get(ASSIGNMENTS + "?status=lost").status_code == 400
    rows = client.get(ASSIGNMENTS).json()["results"]
    assert rows[1]["answer"] == {"better": "A"} and rows[0]["answer"] is None
    assert client.get(f"{ASSIGNMENTS}{mine[0]}/").json()["answer"] == {"better": "A"}
    assert client.get(f"{ASSIGNMENTS}{theirs}/").status_code == 404


@pytest.mark.parametrize(("method", "suffix"), [
    ("get", ""), ("post", "submit/"), ("post", "skip/"), ("post", "extend/")])
def test_another_experts_assignment_is_404(client, project, customer, staff, method, suffix):
    leased = pull(client, project)
    url = f"{ASSIGNMENTS}{leased['id']}/{suffix}"
    for outsider in [factories.expert(), customer, staff]:
        response = getattr(client_for(outsider), method)(url, {"answer": {"better": "A"}},
                                                         format="json")
        assert response.status_code == 404
        assert str(leased["item"]["data"]["prompt"]) not in response.content.decode()
    assert Assignment.objects.get(pk=leased["id"]).status == "assigned"


def test_customers_and_staff_list_no_assignments(customer, staff, client, project):
    pull(client, project)
    for user in [customer, staff]:
        assert client_for(user).get(ASSIGNMENTS).json()["count"] == 0


@pytest.mark.parametrize(("method", "path"), [
    ("post", NEXT), ("get", ASSIGNMENTS), ("get", f"{ASSIGNMENTS}1/"),
    ("post", f"{ASSIGNMENTS}1/submit/"), ("post", f"{ASSIGNMENTS}1/skip/"),
    ("post", f"{ASSIGNMENTS}1/extend/")])
def test_anonymous_gets_401(api, method, path):
    assert getattr(api, method)(path, {}, format="json").status_code == 401


def test_removed_experts_keep_reading_their_assignments(client, expert, project):
    leased = pull(client, project)
    ProjectExpert.objects.create(project=project, expert=expert, access="removed",
                                 reason="Low accuracy.")
    assert client.get(f"{ASSIGNMENTS}{leased['id']}/").status_code == 200
    response = client.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 403
    assert "Low accuracy." in response.json()["detail"]


def keys_and_strings(value, keys=None, strings=None):
    """Every dict key and every string anywhere in a JSON document."""
    keys = set() if keys is None else keys
    strings = set() if strings is None else strings
    if isinstance(value, dict):
        for key, inner in value.items():
            keys.add(key)
            keys_and_strings(inner, keys, strings)
    elif isinstance(value, list):
        for inner in value:
            keys_and_strings(inner, keys, strings)
    elif isinstance(value, str):
        strings.add(value)
    return keys, strings


def test_no_expert_facing_response_reveals_gold(customer, client):
    project = factories.project(customer, items=1, gold=2, gold_rate="1", overlap=1)
    Item.objects.filter(is_gold=True).update(gold={"better": "B", "rewrite": GOLD_REWRITE})
    responses = []

    def record(response, expected):
        assert response.status_code == expected, response.content
        responses.append(response)
        return response.json() if response.content else None

    first = record(client.post(NEXT, {"project": project.pk}, format="json"), 201)
    second = record(client.post(NEXT, {}, format="json"), 201)
    assert {first["item"]["id"], second["item"]["id"]} == set(
        Item.objects.filter(is_gold=True).values_list("pk", flat=True)), "both gold"
    record(client.get(ASSIGNMENTS), 200)
    record(client.get(f"{ASSIGNMENTS}{first['id']}/"), 200)
    record(client.post(f"{ASSIGNMENTS}{first['id']}/extend/"), 200)
    record(client.post(f"{ASSIGNMENTS}{first['id']}/submit/", {"answer": {"better": "A"}},
                       format="json"), 200)
    record(client.post(f"{ASSIGNMENTS}{second['id']}/skip/", {"reason": "unsure"},
                       format="json"), 200)
    record(client.get(ASSIGNMENTS + "?status=submitted"), 200)
    record(client.get(ASSIGNMENTS + "?status=skipped"), 200)
    record(client.get(f"{ASSIGNMENTS}{first['id']}/"), 200)
    record(client.post(f"{ASSIGNMENTS}{first['id']}/submit/", {"answer": {"better": "A"}},
                       format="json"), 409)
    record(client.post(f"{ASSIGNMENTS}{second['id']}/submit/", {"answer": {"better": "X"}},
                       format="json"), 409)
    regular = record(client.post(NEXT, {}, format="json"), 201)
    record(client.post(f"{ASSIGNMENTS}{regular['id']}/submit/", {"answer": {"better": "Q"}},
                       format="json"), 400)
    record(client.post(NEXT, {}, format="json"), 204)
    record(client.get("/api/v1/me/"), 200)
    assert len(responses) == 16
    for response in responses:
        body = response.content.decode()
        keys, strings = keys_and_strings(json.loads(body) if body else None)
        assert not keys & {"gold", "is_gold"}, (response.request, keys)
        assert GOLD_REWRITE not in strings and GOLD_REWRITE not in body
        assert "gold" not in " ".join(response.headers.values()).lower()


def test_no_response_shows_another_experts_answer(customer, client):
    project = factories.project(customer, items=1, overlap=2, max_overlap=2)
    first = client_for(factories.expert())
    leased = pull(first, project)
    first.post(f"{ASSIGNMENTS}{leased['id']}/submit/",
               {"answer": {"better": "B", "rewrite": "First expert's private rewrite"}},
               format="json")
    mine = pull(client, project)
    assert mine["item"]["id"] == leased["item"]["id"]
    bodies = [client.get(f"{ASSIGNMENTS}{mine['id']}/").content, client.get(ASSIGNMENTS).content,
              client.post(f"{ASSIGNMENTS}{mine['id']}/submit/", {"answer": {"better": "A"}},
                          format="json").content]
    assert all(b"First expert's private rewrite" not in body for body in bodies)


def heartbeat_url(assignment_id: int) -> str:
    return f"{ASSIGNMENTS}{assignment_id}/heartbeat/"


def test_a_heartbeat_answers_the_active_time_and_the_week(client, project):
    leased = pull(client, project)
    assert (leased["contract"], leased["active_s"]) == ("per_task", 0)
    Assignment.objects.filter(pk=leased["id"]).update(
        leased_at=timezone.now() - timedelta(seconds=30))
    response = client.post(heartbeat_url(leased["id"]))
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"active_s", "counted_s", "week_logged_s", "cap_left_s", "cap_reached"}
    assert 30 <= data["active_s"] == data["counted_s"] == data["week_logged_s"] <= 31
    assert (data["cap_left_s"], data["cap_reached"]) == (None, False)
    assert client.get(f"{ASSIGNMENTS}{leased['id']}/").json()["active_s"] == data["active_s"]


def test_an_hourly_heartbeat_answers_what_is_left_of_the_weekly_cap(customer, client):
    factories.fund(factories.organization_of(customer), "1000.00")
    project = factories.project(customer, items=2, contract="hourly", hourly_rate="40.00",
                                weekly_cap_hours="2")
    leased = pull(client, project)
    assert leased["contract"] == "hourly"
    data = client.post(heartbeat_url(leased["id"])).json()
    assert data["cap_left_s"] == 7200 - data["week_logged_s"]
    assert data["cap_reached"] is False


def test_a_heartbeat_on_work_no_longer_live_is_409_and_on_anothers_404(client, project):
    leased = pull(client, project)
    other = client_for(factories.expert())
    assert other.post(heartbeat_url(leased["id"])).status_code == 404
    assert client.post(heartbeat_url(999999)).status_code == 404
    client.post(f"{ASSIGNMENTS}{leased['id']}/submit/", {"answer": {"better": "A"}},
                format="json")
    response = client.post(heartbeat_url(leased["id"]))
    assert response.status_code == 409
    assert response.json()["code"] == "already_submitted"
    assert Assignment.objects.get(pk=leased["id"]).active_s == 0


def test_an_extension_a_receiver_refuses_is_409_and_changes_nothing(client, project):
    leased = pull(client, project)
    before = Assignment.objects.get(pk=leased["id"]).expires_at

    def refuse(sender, assignment, **kwargs):
        raise LeaseRefused("The project cannot fund more time on this item.")

    assignment_extended.connect(refuse)
    try:
        response = client.post(f"{ASSIGNMENTS}{leased['id']}/extend/")
    finally:
        assignment_extended.disconnect(refuse)
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    assert "cannot fund" in response.json()["detail"]
    assert Assignment.objects.get(pk=leased["id"]).expires_at == before


def test_next_at_the_weekly_cap_answers_204_with_the_reason(customer, client):
    factories.fund(factories.organization_of(customer), "1000.00")
    project = factories.project(customer, items=3, contract="hourly", hourly_rate="40.00",
                                weekly_cap_hours="1")
    leased = pull(client, project)
    Assignment.objects.filter(pk=leased["id"]).update(active_s=3600)
    response = client.post(NEXT, {"project": project.pk}, format="json")
    assert response.status_code == 204
    assert response["X-Next-Reason"].startswith(
        f"project {project.pk}: You have logged 1.0 of this week's 1.0 hours on "
        f"{project.name}; the cap resets Monday ")
