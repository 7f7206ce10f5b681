"""The expert's work page: starting and resuming leases, every question kind posted as the
form sends it and stored as the API stores it, refusals that keep what the expert typed,
skip, more time, comments, and nothing of gold or of other experts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tasks import services
from tasks.models import Annotation, Assignment, Comment, Project
from tasks.routing import next_assignment
from tests import factories
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db

PROMPT = "A 64-year-old on warfarin asks whether ibuprofen is safe for knee pain."
COMPLETIONS = ["Yes, ibuprofen is fine.", "Avoid it: bleeding risk with warfarin.",
               "Ask your pharmacist."]
NOTE = "Patient 😀 reports chest pain after exercise."
FIELDS = [
    {"name": "prompt", "type": "text"},
    {"name": "completions", "type": "text_list"},
    {"name": "note", "type": "text"},
]
QUESTIONS = [
    {"name": "verdict", "kind": "label", "options": ["safe", "unsafe"]},
    {"name": "issues", "kind": "multi_label", "options": ["dosage", "interaction", "tone"]},
    {"name": "quality", "kind": "rating", "min": 1, "max": 5},
    {"name": "order", "kind": "ranking", "field": "completions"},
    {"name": "better", "kind": "pairwise", "field": "completions", "strength": True},
    {"name": "rewrite", "kind": "text", "prefill": "completions", "required": False},
    {"name": "entities", "kind": "spans", "field": "note", "options": ["SYMPTOM", "TRIGGER"]},
]
ITEM = {"prompt": PROMPT, "completions": COMPLETIONS, "note": NOTE}


def every_kind_project(owner, rows: int = 1, **options):
    project = factories.project(owner, fields=FIELDS, questions=QUESTIONS, activate=False,
                                **options)
    return factories.add_items(project, [ITEM] * rows)


def lease_for(expert, project) -> Assignment:
    return next_assignment(expert, project).assignment


FULL_POST = {
    "q-verdict": "unsafe",
    "q-issues": ["interaction", "dosage"],
    "q-quality": "2",
    "q-order": "[1, 2, 0]",
    "q-better": "B",
    "q-better-strength": "3",
    "q-rewrite": "Avoid ibuprofen;\r\ntake paracetamol instead.",
    "q-entities": '[{"start": 8, "end": 26, "label": "SYMPTOM"}]',
    "duration_s": "42.5",
}
FULL_ANSWER = {
    "verdict": "unsafe",
    "issues": ["interaction", "dosage"],
    "quality": 2,
    "order": [1, 2, 0],
    "better": {"choice": "B", "strength": 3},
    "rewrite": "Avoid ibuprofen;\ntake paracetamol instead.",
    "entities": [{"start": 8, "end": 26, "label": "SYMPTOM"}],
}


@pytest.fixture
def work(customer):
    project = every_kind_project(customer, rows=2)
    expert = factories.expert(username="dr-work")
    return {"project": project, "expert": expert, "client": signed_in(expert)}


def test_the_menu_leads_experts_to_work(work):
    response = work["client"].get("/workspace/")
    assert 'href="/workspace/work/"' in response.content.decode()


def test_start_working_leases_an_item_and_opens_it(work):
    response = work["client"].post("/workspace/work/")
    lease = Assignment.objects.get(expert=work["expert"])
    assert response.status_code == 302
    assert response["Location"] == f"/workspace/work/{lease.pk}/"
    page = work["client"].get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert PROMPT in text and COMPLETIONS[1] in text
    assert 'data-remaining="' in text


def test_the_work_page_resumes_an_open_lease_instead_of_taking_another(work):
    lease = lease_for(work["expert"], work["project"])
    page = work["client"].get("/workspace/work/")
    assert f'href="/workspace/work/{lease.pk}/"' in page.content.decode()
    response = work["client"].post("/workspace/work/", {"project": work["project"].pk})
    assert response["Location"] == f"/workspace/work/{lease.pk}/"
    assert Assignment.objects.filter(expert=work["expert"]).count() == 1


@pytest.mark.parametrize(("post", "expected"), [
    (FULL_POST, FULL_ANSWER),
    # The plain form, without the page's script: places per entry, spans typed as JSON.
    ({**FULL_POST, "q-order": "", "q-order-place-0": "3", "q-order-place-1": "1",
      "q-order-place-2": "2"}, FULL_ANSWER),
    # A tie has no strength; the stored answer takes the lowest, as the schema asks for one.
    ({**FULL_POST, "q-better": "tie", "q-better-strength": ""},
     {**FULL_ANSWER, "better": {"choice": "tie", "strength": 1}}),
    # "None of these" and "nothing to mark" answer empty lists; a blank optional text is left
    # out.
    ({**FULL_POST, "q-issues": [], "q-issues-none": "1", "q-entities": "",
      "q-entities-none": "1", "q-rewrite": "  "},
     {key: value for key, value in {**FULL_ANSWER, "issues": [], "entities": []}.items()
      if key != "rewrite"}),
])
def test_each_kind_is_stored_as_the_api_stores_it(work, post, expected):
    lease = lease_for(work["expert"], work["project"])
    response = work["client"].post(f"/workspace/work/{lease.pk}/", post)
    assert response.status_code == 302
    annotation = Annotation.objects.get(assignment=lease)
    assert annotation.answer == expected
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SUBMITTED
    assert lease.duration_s == 42.5


def test_span_offsets_count_characters_as_the_api_does(work):
    """The note has an emoji before "chest pain"; offsets count it as one character."""
    lease = lease_for(work["expert"], work["project"])
    start = NOTE.index("chest pain")
    post = {**FULL_POST, "q-entities": f'[{{"start": {start}, "end": {start + 10}, '
                                       f'"label": "SYMPTOM"}}]'}
    work["client"].post(f"/workspace/work/{lease.pk}/", post)
    span = Annotation.objects.get(assignment=lease).answer["entities"][0]
    assert NOTE[span["start"]:span["end"]] == "chest pain"


def test_a_submit_opens_the_next_item_then_says_nothing_is_left(work):
    first = lease_for(work["expert"], work["project"])
    response = work["client"].post(f"/workspace/work/{first.pk}/", FULL_POST)
    second = Assignment.objects.filter(expert=work["expert"]).exclude(pk=first.pk).get()
    assert response["Location"] == f"/workspace/work/{second.pk}/"
    response = work["client"].post(f"/workspace/work/{second.pk}/", FULL_POST, follow=True)
    text = response.content.decode()
    assert response.redirect_chain[-1][0] == "/workspace/work/"
    assert "Answer saved." in text
    assert f"{work['project'].name} is complete: every item has its answers." in text


def test_an_invalid_answer_is_named_beside_its_question_and_nothing_is_stored(work):
    lease = lease_for(work["expert"], work["project"])
    post = {**FULL_POST, "q-verdict": "maybe", "q-quality": "", "q-better-strength": "",
            "q-rewrite": "My careful rewrite, kept."}
    response = work["client"].post(f"/workspace/work/{lease.pk}/", post)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["q-verdict"] == ['Must be one of safe, unsafe; got "maybe".']
    assert form.errors["q-quality"] == ["This question is required."]
    assert form.errors["q-better"] == ["Say how much better B is."]
    assert set(form.errors) == {"q-verdict", "q-quality", "q-better"}
    text = response.content.decode()
    assert "Nothing was saved." in text
    assert "My careful rewrite, kept." in text
    assert 'value="interaction" data-key="2" checked' in text  # ticked options stay ticked
    assert "[1, 2, 0]" in text  # the ranking as placed
    assert not Annotation.objects.exists()
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ASSIGNED


@pytest.mark.parametrize(("change", "question", "message"), [
    ({"q-order": "[0, 0, 1]"}, "q-order", "Must list every index of 'completions' once"),
    ({"q-order": "not json"}, "q-order", "The ranking's places could not be read"),
    ({"q-order": "[" * 5000 + "]" * 5000}, "q-order", "The ranking's places could not be read"),
    ({"q-entities": '[{"start": 0, "end": 1, "label": "\\u0000"}]'}, "q-entities",
     "The marked spans could not be read"),
    ({"q-order": "", "q-order-place-0": "1", "q-order-place-1": "1", "q-order-place-2": "2"},
     "q-order", "Give each entry its own place, 1 to 3."),
    ({"q-entities": '[{"start": 0, "end": 999, "label": "SYMPTOM"}]'}, "q-entities",
     f"Span [0] must have whole numbers 0 <= start < end <= {len(NOTE)}"),
    ({"q-entities-none": "1"}, "q-entities", "Mark spans or tick “nothing to mark”, not both."),
    ({"q-issues-none": "1"}, "q-issues", "Tick options or “none of these”, not both."),
    ({"q-quality": "9"}, "q-quality", "Must be a whole number from 1 to 5; got 9."),
    ({"q-quality": "high"}, "q-quality", "Choose a score from 1 to 5."),
])
def test_each_kind_refuses_a_bad_value_by_name(work, change, question, message):
    lease = lease_for(work["expert"], work["project"])
    response = work["client"].post(f"/workspace/work/{lease.pk}/", {**FULL_POST, **change})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[question])
    assert not Annotation.objects.exists()


def test_an_expired_lease_refuses_the_answer_and_keeps_the_text(work):
    lease = lease_for(work["expert"], work["project"])
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(1))
    post = {**FULL_POST, "q-rewrite": "Text typed while time ran out."}
    response = work["client"].post(f"/workspace/work/{lease.pk}/", post)
    assert response.status_code == 200
    text = response.content.decode()
    assert "This assignment expired; ask for the next one." in text
    assert "Text typed while time ran out." in text
    assert not Annotation.objects.exists()


def test_a_rewrite_starts_from_the_first_completion_where_the_project_says_so(work):
    lease = lease_for(work["expert"], work["project"])
    text = work["client"].get(f"/workspace/work/{lease.pk}/").content.decode()
    assert f'aria-label="Rewrite">\n{COMPLETIONS[0]}</textarea>' in text


def test_skip_needs_a_reason_and_then_hands_the_item_back(work):
    lease = lease_for(work["expert"], work["project"])
    response = work["client"].post(f"/workspace/work/{lease.pk}/skip/", {"reason": "  "},
                                   follow=True)
    assert "Reason: say why you skip this item" in response.content.decode()
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ASSIGNED
    response = work["client"].post(f"/workspace/work/{lease.pk}/skip/",
                                   {"reason": "", "preset": "Outside my expertise"})
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SKIPPED
    assert lease.skip_reason == "Outside my expertise"
    following = Assignment.objects.filter(expert=work["expert"]).exclude(pk=lease.pk).get()
    assert response["Location"] == f"/workspace/work/{following.pk}/"


def test_more_time_restarts_the_lease_period(work):
    lease = lease_for(work["expert"], work["project"])
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(
        minutes=2))
    response = work["client"].post(f"/workspace/work/{lease.pk}/extend/", follow=True)
    lease.refresh_from_db()
    assert lease.expires_at > timezone.now() + timedelta(minutes=59)
    assert f"You have until {lease.expires_at:%H:%M} UTC" in response.content.decode()


def test_comments_are_added_and_name_others_as_the_api_does(work, customer):
    shared = every_kind_project(customer, overlap=2, max_overlap=2)
    lease = lease_for(work["expert"], shared)
    other = factories.expert()
    assert lease_for(other, shared).item_id == lease.item_id
    services.add_comment(user=other, item=lease.item, body="Is B's dose right?")
    services.add_comment(user=customer, item=lease.item, body="Guideline attached.")
    response = work["client"].post(f"/workspace/work/{lease.pk}/comments/",
                                   {"body": "  B names the interaction.  "}, follow=True)
    assert Comment.objects.filter(author=work["expert"]).get().body == "B names the interaction."
    text = response.content.decode()
    assert "Comment added." in text
    assert other.username not in text and customer.username not in text
    assert "expert-" in text  # the other expert's pseudonym
    assert "<strong>customer</strong>" in text and "<strong>You</strong>" in text
    empty = work["client"].post(f"/workspace/work/{lease.pk}/comments/", {"body": " "},
                                follow=True)
    assert "A comment cannot be empty." in empty.content.decode()
    assert Comment.objects.count() == 3


def test_another_experts_lease_answers_404_on_every_action(work):
    lease = lease_for(work["expert"], work["project"])
    intruder = signed_in(factories.expert())
    assert intruder.get(f"/workspace/work/{lease.pk}/").status_code == 404
    for action in ("", "skip/", "extend/", "comments/"):
        response = intruder.post(f"/workspace/work/{lease.pk}/{action}",
                                 {**FULL_POST, "reason": "mine now", "body": "hello"})
        assert response.status_code == 404
    assert not Annotation.objects.exists() and not Comment.objects.exists()
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ASSIGNED


def test_customers_may_not_open_the_work_pages(work, customer):
    lease = lease_for(work["expert"], work["project"])
    client = signed_in(customer)
    assert client.get("/workspace/work/").status_code == 403
    assert client.get(f"/workspace/work/{lease.pk}/").status_code == 403
    assert client.post("/workspace/work/").status_code == 403


def test_gold_never_reaches_the_page(customer):
    """A gold item is served as any other: neither its reference answer nor a flag shows."""
    project = factories.project(customer, fields=FIELDS, questions=QUESTIONS, activate=False,
                                gold_rate=Decimal("1"))
    factories.add_items(project, [ITEM], gold=[(ITEM, {
        "verdict": "unsafe", "issues": ["interaction"], "quality": 4, "order": [1, 2, 0],
        "better": {"choice": "B", "strength": 3},
        "entities": [{"start": 8, "end": 26, "label": "TRIGGER"}]})])
    expert = factories.expert()
    client = signed_in(expert)
    client.post("/workspace/work/")
    lease = Assignment.objects.get(expert=expert)
    assert lease.is_gold
    text = client.get(f"/workspace/work/{lease.pk}/").content.decode()
    assert "gold" not in text.lower()
    assert "check-" not in text  # the gold item's external id
    assert "TRIGGER" in text  # as a label to pick, never as an answer
    assert "checked" not in text and "[1, 2, 0]" not in text


def test_which_model_wrote_each_completion_never_reaches_the_page(customer):
    fields = [*FIELDS[:2], {"name": "models", "type": "text_list"}]
    project = factories.project(customer, fields=fields, activate=False, questions=[
        {"name": "better", "kind": "pairwise", "field": "completions", "models": "models"}])
    factories.add_items(project, [{"prompt": PROMPT, "completions": COMPLETIONS[:2],
                                   "models": ["model-north", "model-south"]}])
    expert = factories.expert()
    client = signed_in(expert)
    client.post("/workspace/work/")
    lease = Assignment.objects.get(expert=expert)
    text = client.get(f"/workspace/work/{lease.pk}/").content.decode()
    assert COMPLETIONS[1] in text
    assert "model-north" not in text and "model-south" not in text


def test_the_lease_page_queries_do_not_grow_with_comments(work, customer,
                                                         django_assert_max_num_queries):
    shared = every_kind_project(customer, overlap=7, max_overlap=7)
    lease = lease_for(work["expert"], shared)
    for n in range(6):
        author = factories.expert()
        lease_for(author, shared)
        services.add_comment(user=author, item=lease.item, body=f"Comment {n}")
        services.add_comment(user=customer, item=lease.item, body=f"Answer {n}")
    with django_assert_max_num_queries(12):
        response = work["client"].get(f"/workspace/work/{lease.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count('class="work-comment') >= 12


def test_the_work_page_queries_are_bounded(work, customer, django_assert_max_num_queries):
    for _ in range(4):
        lease_for(work["expert"], every_kind_project(customer))
    with django_assert_max_num_queries(12):
        response = work["client"].get("/workspace/work/")
    assert len(response.context["leases"]) == 4


def test_nothing_to_do_is_explained(customer):
    expert = factories.expert(domains=("law",))
    every_kind_project(customer)
    client = signed_in(expert)
    page = client.get("/workspace/work/").content.decode()
    assert "No project is open to you right now" in page
    response = client.post("/workspace/work/", follow=True)
    assert "No project is open to you right now." in response.content.decode()
    assert not Assignment.objects.exists()


def test_an_unverified_expert_is_told_why(customer):
    every_kind_project(customer)
    client = signed_in(factories.expert(verified=False))
    page = client.get("/workspace/work/").content.decode()
    assert "an operator verifies it before you can work" in page
    response = client.post("/workspace/work/", follow=True)
    assert "an operator verifies it before you can work" in response.content.decode()
    assert not Assignment.objects.exists()


def test_a_project_the_expert_may_not_work_on_says_why(work, customer):
    legal = every_kind_project(customer, domain="law")
    reason = "You have no expertise in Law or one of its subdomains."
    page = work["client"].get(f"/workspace/work/?project={legal.pk}").content.decode()
    assert f"{legal.name}: {reason}" in page
    response = work["client"].post("/workspace/work/", {"project": legal.pk}, follow=True)
    assert reason in response.content.decode()
    # A private project the expert was not let into does not exist for them, whatever its
    # state.
    private = every_kind_project(customer, visibility="private")
    services.transition_project(user=customer, project=private, action="pause")
    for project_id in (private.pk, 999_999):
        page = work["client"].get(f"/workspace/work/?project={project_id}").content.decode()
        assert "Unknown project." in page and private.name not in page
        response = work["client"].post("/workspace/work/", {"project": project_id}, follow=True)
        assert "Unknown project." in response.content.decode()
        assert private.name not in response.content.decode()
    assert not Assignment.objects.exists()


def test_the_lease_cap_is_explained(work, customer, settings):
    settings.MAX_ACTIVE_LEASES = 1
    lease_for(work["expert"], work["project"])
    page = work["client"].get("/workspace/work/").content.decode()
    assert "You hold 1 open items, the most allowed at once" in page
    other = every_kind_project(customer)
    response = work["client"].post("/workspace/work/", {"project": other.pk}, follow=True)
    assert "the most allowed at once; submit or skip one first." in response.content.decode()


def test_a_finished_lease_shows_its_outcome_without_a_form(work):
    lease = lease_for(work["expert"], work["project"])
    services.skip(assignment_id=lease.pk, user=work["expert"], reason="Conflict of interest")
    response = work["client"].get(f"/workspace/work/{lease.pk}/")
    text = response.content.decode()
    assert "You skipped this item" in text and "Conflict of interest" in text
    assert response.context["form"] is None
    assert 'id="answer-form"' not in text


def test_each_field_type_is_shown_for_what_it_is(customer):
    project = factories.project(customer, activate=False, fields=[
        {"name": "chat", "type": "messages"},
        {"name": "steps", "type": "trace"},
        {"name": "scan", "type": "media", "media_type": "image"},
        {"name": "dictation", "type": "media", "media_type": "audio"},
        {"name": "exam", "type": "media", "media_type": "video"},
        {"name": "vitals", "type": "json"},
    ], questions=[{"name": "ok", "kind": "label", "options": ["yes", "no"]}])
    factories.add_items(project, [{
        "chat": [{"role": "system", "content": "Be careful."},
                 {"role": "user", "content": "Dose?"},
                 {"role": "assistant", "content": "5 mg."},
                 {"role": "tool", "content": "{}"}],
        "steps": [{"type": "thought", "content": "Check the INR."},
                  {"type": "tool_call", "tool": "labs", "content": '{"test":"INR"}'},
                  {"type": "tool_result", "content": "INR 3.4"}],
        "scan": "https://media.example.org/scan.png",
        "dictation": "https://media.example.org/note.mp3",
        "exam": "https://media.example.org/exam.mp4",
        "vitals": {"pulse": 88},
    }])
    expert = factories.expert()
    lease = lease_for(expert, project)
    text = signed_in(expert).get(f"/workspace/work/{lease.pk}/").content.decode()
    for role in ("system", "user", "assistant", "tool"):
        assert f'class="work-turn work-turn-{role}"' in text
    assert 'class="work-step work-step-tool_call"' in text
    assert '<code class="work-tool">labs</code>' in text
    assert '{\n  &quot;test&quot;: &quot;INR&quot;\n}' in text  # tool arguments, indented
    assert '<img class="work-image" src="https://media.example.org/scan.png"' in text
    assert '<audio controls preload="metadata" src="https://media.example.org/note.mp3">' in text
    assert '<video controls preload="metadata" src="https://media.example.org/exam.mp4">' in text
    assert '{\n  &quot;pulse&quot;: 88\n}' in text


def test_the_header_shows_the_time_per_item_and_the_hourly_pay(work):
    Project.objects.filter(pk=work["project"].pk).update(
        price_per_item=Decimal("3.00"), estimated_seconds=240)
    factories.fund(work["project"].organization)
    lease = lease_for(work["expert"], work["project"])
    text = work["client"].get(f"/workspace/work/{lease.pk}/").content.decode()
    assert 'id="work-estimate"' in text
    assert "About 4 min per item · about 36.00 USD/h after fees" in text
    Project.objects.filter(pk=work["project"].pk).update(estimated_seconds=None)
    text = work["client"].get(f"/workspace/work/{lease.pk}/").content.decode()
    assert 'id="work-estimate"' not in text


# -- active time ------------------------------------------------------------------------------


def test_the_page_heartbeats_into_the_same_active_time_as_the_api(work, settings):
    settings.HEARTBEAT_INTERVAL_S = 7
    lease = lease_for(work["expert"], work["project"])
    page = work["client"].get(f"/workspace/work/{lease.pk}/").content.decode()
    assert f'data-heartbeat-url="/workspace/work/{lease.pk}/heartbeat/"' in page
    assert 'data-heartbeat-s="7"' in page
    assert 'id="active-time"' not in page, "a per-task lease shows no clock of hours"
    Assignment.objects.filter(pk=lease.pk).update(
        leased_at=timezone.now() - timedelta(seconds=20))
    response = work["client"].post(f"/workspace/work/{lease.pk}/heartbeat/")
    assert response.status_code == 200
    data = response.json()
    assert 20 <= data["active_s"] == data["counted_s"] <= 21
    assert data["cap_left_s"] is None
    lease.refresh_from_db()
    assert lease.active_s == data["active_s"]


def test_an_hourly_lease_shows_its_active_time_and_the_week(customer):
    factories.fund(factories.organization_of(customer), "1000.00")
    project = factories.project(customer, items=2, contract="hourly", hourly_rate="40.00",
                                weekly_cap_hours=Decimal(20))
    expert = factories.expert()
    earlier, lease = lease_for(expert, project), lease_for(expert, project)
    Assignment.objects.filter(pk=earlier.pk).update(active_s=3 * 3600)
    Assignment.objects.filter(pk=lease.pk).update(active_s=125)
    text = signed_in(expert).get(f"/workspace/work/{lease.pk}/").content.decode()
    assert ('Active time on this item <strong class="work-active-item">2:05</strong> · this '
            'week <span class="work-active-week">3.0</span> of 20.0 h') in text


def test_a_heartbeat_on_a_finished_lease_is_409_and_on_anothers_404(work):
    lease = lease_for(work["expert"], work["project"])
    intruder = signed_in(factories.expert())
    assert intruder.post(f"/workspace/work/{lease.pk}/heartbeat/").status_code == 404
    assert work["client"].get(f"/workspace/work/{lease.pk}/heartbeat/").status_code == 405
    services.skip(assignment_id=lease.pk, user=work["expert"], reason="Outside my expertise")
    response = work["client"].post(f"/workspace/work/{lease.pk}/heartbeat/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_skipped"
    page = work["client"].get(f"/workspace/work/{lease.pk}/").content.decode()
    assert "data-heartbeat-url" not in page


def test_the_weekly_cap_is_explained_when_it_holds_work_back(customer):
    factories.fund(factories.organization_of(customer), "1000.00")
    project = factories.project(customer, items=3, contract="hourly", hourly_rate="40.00",
                                weekly_cap_hours=Decimal(1))
    expert = factories.expert()
    client = signed_in(expert)
    lease = lease_for(expert, project)
    services.skip(assignment_id=lease.pk, user=expert, reason="Outside my expertise")
    Assignment.objects.filter(pk=lease.pk).update(active_s=3600)
    response = client.post("/workspace/work/", {"project": project.pk}, follow=True)
    text = response.content.decode()
    assert f"You have logged 1.0 of this week&#x27;s 1.0 hours on {project.name}" in text
    assert "the cap resets Monday" in text
    assert Assignment.objects.filter(expert=expert).count() == 1
