"""The expert's work page in a real browser: one item of each question kind answered from the
keyboard (a ranking by arrows, spans by selecting text with the mouse), a skip with a reason,
more time, a comment, the shortcut list, and the countdown running out; what the database
holds afterwards is exactly what the API would have stored."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tasks.models import Annotation, Assignment, Comment
from tasks.routing import next_assignment
from tests import factories

PROMPT = "A 64-year-old on warfarin asks whether ibuprofen is safe for knee pain."
COMPLETIONS = [
    "Yes, ibuprofen is fine for short courses.",
    "Avoid it: NSAIDs raise the bleeding risk with warfarin. Paracetamol is safer; check "
    "with the prescriber.",
    "Ask your pharmacist.",
]
NOTE = "Patient 😀 reports chest pain after exercise, relieved by rest."
TRACE = [
    {"type": "thought", "content": "I need the patient's latest INR before dosing."},
    {"type": "tool_call", "tool": "lab_lookup", "content": '{"patient": "p-17", "test": "INR"}'},
    {"type": "tool_result", "tool": "lab_lookup", "content": '{"INR": 3.4, "date": "2026-11-30"}'},
    {"type": "observation", "content": "INR is above the 2-3 target range."},
    {"type": "answer", "content": "Hold tonight's dose and recheck INR in 48 hours."},
]
CONVERSATION = [
    {"role": "system", "content": "You are a careful clinical assistant."},
    {"role": "user", "content": "Can I take ibuprofen with warfarin?"},
    {"role": "assistant", "content": "It is best avoided: the combination raises bleeding "
                                     "risk. Paracetamol is usually preferred."},
    {"role": "tool", "content": '{"interaction": "major", "source": "formulary"}'},
]


def media_url(live_server) -> str:
    return f"{live_server.url}/static/workspace/favicon.svg"


def every_kind_project(owner, live_server):
    """One project whose item has every field type and whose questions are every kind the
    presets do not cover: multi-label, ranking, pairwise with strength, a prefilled rewrite,
    spans."""
    project = factories.project(owner, activate=False, instructions=(
        "Judge the answers as a clinician would.\nMark symptoms and their triggers in the "
        "note."), fields=[
        {"name": "prompt", "type": "text"},
        {"name": "completions", "type": "text_list"},
        {"name": "note", "type": "text"},
        {"name": "scan", "type": "media", "media_type": "image"},
        {"name": "dictation", "type": "media", "media_type": "audio"},
        {"name": "exam", "type": "media", "media_type": "video"},
        {"name": "vitals", "type": "json"},
    ], questions=[
        {"name": "verdict", "kind": "label", "options": ["safe", "unsafe", "unclear"]},
        {"name": "issues", "kind": "multi_label", "options": ["dosage", "interaction", "tone"]},
        {"name": "order", "kind": "ranking", "field": "completions"},
        {"name": "better", "kind": "pairwise", "field": "completions", "strength": True},
        {"name": "rewrite", "kind": "text", "prefill": "completions", "required": False},
        {"name": "findings", "kind": "spans", "field": "note",
         "options": ["SYMPTOM", "TRIGGER"]},
    ])
    url = media_url(live_server)
    return factories.add_items(project, [{
        "prompt": PROMPT, "completions": COMPLETIONS, "note": NOTE, "scan": url,
        "dictation": url, "exam": url,
        "vitals": {"bp": "150/95", "pulse": 88, "meds": ["warfarin", "metoprolol"]}}])


def select_with_mouse(page, selector: str, phrase: str) -> None:
    """Drag the mouse over `phrase` in the element, as a person selects words."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.evaluate("""([selector, phrase]) => {
        const walker = document.createTreeWalker(document.querySelector(selector),
                                                 NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(phrase);
            if (at < 0) { continue; }
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + phrase.length);
            const rects = range.getClientRects();
            const first = rects[0], last = rects[rects.length - 1];
            return {x1: first.left + 1, y1: first.top + first.height / 2,
                    x2: last.right - 1, y2: last.top + last.height / 2};
        }
        return null;
    }""", [selector, phrase])
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y2"], steps=8)
    page.mouse.up()


def tall(page) -> None:
    """A screen tall enough for the answer column to show every question at once."""
    page.set_viewport_size({"width": 1280, "height": 1500})


def start(page, project) -> None:
    page.goto(f"/workspace/work/?project={project.pk}")
    page.get_by_role("button", name="Start working on this project").click()
    expect(page.locator("#answer-form")).to_be_visible()


def submit_by_keyboard(page, project) -> None:
    page.keyboard.press("Control+Enter")
    expect(page.locator(".messagelist")).to_contain_text("Answer saved.")
    expect(page.locator(".messagelist")).to_contain_text(f"{project.name} is complete")


def answer_of(expert, project) -> dict:
    return Annotation.objects.get(expert=expert, project=project).answer


@pytest.mark.django_db(transaction=True)
def test_an_expert_answers_one_item_of_each_kind(page, login, screenshot, live_server,
                                                 taxonomy):
    owner = factories.customer(organization="Heart Labs")
    review = every_kind_project(owner, live_server)
    rubric = factories.add_items(factories.project(owner, preset="rubric", activate=False), [
        {"prompt": PROMPT, "response": COMPLETIONS[1]}])
    conversation = factories.add_items(factories.project(
        owner, preset="conversation_review", activate=False), [{"conversation": CONVERSATION}])
    trace = factories.add_items(factories.project(
        owner, preset="agent_trace_review", activate=False),
        [{"task": "Manage the patient's anticoagulation.", "trace": TRACE}])
    preference = factories.add_items(factories.project(owner, activate=False), [
        {"prompt": PROMPT, "completions": COMPLETIONS[:2]}])
    sft = factories.add_items(factories.project(owner, preset="sft", activate=False), [
        {"prompt": "Explain INR to a patient in two sentences."}])
    classification = factories.add_items(factories.project(
        owner, preset="classification", activate=False, questions=[
            {"name": "specialty", "kind": "label",
             "options": ["cardiology", "oncology", "neurology"]}]),
        [{"text": "Crushing chest pain radiating to the left arm."}])
    expert = factories.expert(username="dr-keys")
    login(expert)
    tall(page)

    page.goto("/workspace/")
    page.get_by_role("link", name="Work", exact=True).first.click()
    expect(page.locator("#work-start")).to_contain_text("Start working")
    expect(page.locator("#work-projects")).to_contain_text(review.name)
    screenshot("work-home")

    # Every kind at once: label, multi-label, ranking, pairwise with strength, rewrite, spans.
    start(page, review)
    expect(page.locator("#field-completions")).to_contain_text(COMPLETIONS[1])
    expect(page.locator("#field-scan img")).to_be_visible()
    expect(page.locator("#field-dictation audio")).to_have_attribute("controls", "")
    expect(page.locator("#field-exam video")).to_have_attribute("controls", "")
    expect(page.locator("#field-vitals pre")).to_contain_text('"pulse": 88')
    expect(page.locator("#id_q-rewrite")).to_have_value(COMPLETIONS[0])
    expect(page.locator("#lease-clock .work-clock-value")).to_have_text(re.compile(r"^\d+:\d\d"))
    expect(page.locator("#lease-expired")).to_be_hidden()
    page.keyboard.press("2")  # verdict: unsafe, then on to the issues
    page.keyboard.press("2")  # interaction
    page.keyboard.press("1")  # dosage
    page.keyboard.press("j")  # the ranking: its first entry, A, has the focus
    expect(page.locator("#question-order .work-rank").first).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")  # A dropped last: B, C, A
    page.keyboard.press("ArrowUp")  # the focus goes to C...
    page.keyboard.press("Alt+ArrowUp")  # ...which moves above B: C, B, A
    page.keyboard.press("Alt+ArrowDown")  # and back: B, C, A
    expect(page.locator("#q-order-status")).to_contain_text("Ranked, best first: B, C, A.")
    page.keyboard.press("j")
    page.keyboard.press("2")  # B is better...
    page.keyboard.press("3")  # ...by much
    page.get_by_role("button", name="B", exact=True).click()  # start the rewrite from B
    expect(page.locator("#id_q-rewrite")).to_have_value(COMPLETIONS[1])
    page.locator("#id_q-rewrite").press("End")
    page.locator("#id_q-rewrite").type(" Recheck INR in 3 days.")
    page.keyboard.press("Escape")
    select_with_mouse(page, "#field-note-text", "chest pain")
    page.locator(".work-span-palette button", has_text="SYMPTOM").click()
    select_with_mouse(page, "#field-note-text", "exercise")
    page.keyboard.press("2")  # TRIGGER, by its number
    expect(page.locator("#question-findings .work-spans-list")).to_contain_text("“chest pain”")
    expect(page.locator("#field-note-text mark")).to_have_count(2)
    screenshot("work-every-kind")
    page.locator("#question-findings .work-spans-list button").last.click()  # remove TRIGGER
    expect(page.locator("#field-note-text mark")).to_have_count(1)
    submit_by_keyboard(page, review)
    chest = NOTE.index("chest pain")
    assert answer_of(expert, review) == {
        "verdict": "unsafe", "issues": ["dosage", "interaction"], "order": [1, 2, 0],
        "better": {"choice": "B", "strength": 3},
        "rewrite": COMPLETIONS[1] + " Recheck INR in 3 days.",
        "findings": [{"start": chest, "end": chest + len("chest pain"), "label": "SYMPTOM"}],
    }
    assert Assignment.objects.get(expert=expert, project=review).duration_s > 0

    # Ratings on a scale: each digit answers one question and moves on to the next.
    start(page, rubric)
    page.keyboard.press("4")
    page.keyboard.press("5")
    page.keyboard.press("3")
    page.keyboard.press("j")
    page.keyboard.type("Correct, and it names the safer option.")
    screenshot("work-rubric")
    submit_by_keyboard(page, rubric)
    assert answer_of(expert, rubric) == {"helpfulness": 4, "accuracy": 5, "safety": 3,
                                         "justification": "Correct, and it names the safer "
                                                          "option."}

    start(page, conversation)
    for role in ("system", "user", "assistant", "tool"):
        expect(page.locator(f".work-turn-{role}")).to_have_count(1)
    page.keyboard.press("4")
    page.keyboard.press("1")
    screenshot("work-conversation")
    submit_by_keyboard(page, conversation)
    assert answer_of(expert, conversation) == {"quality": 4, "verdict": "acceptable"}

    start(page, trace)
    expect(page.locator(".work-step")).to_have_count(5)
    expect(page.locator(".work-step-tool_call .work-tool")).to_have_text("lab_lookup")
    expect(page.locator(".work-step-tool_result pre")).to_contain_text('"INR": 3.4')
    page.keyboard.press("2")
    page.keyboard.press("3")
    page.keyboard.press("j")
    page.keyboard.type("4")
    screenshot("work-agent-trace")
    submit_by_keyboard(page, trace)
    assert answer_of(expert, trace) == {"outcome": "partial", "efficiency": 3,
                                        "first_error_step": "4"}

    start(page, preference)
    page.keyboard.press("3")  # a tie
    screenshot("work-preference")
    submit_by_keyboard(page, preference)
    assert answer_of(expert, preference) == {"better": "tie"}

    start(page, sft)
    page.keyboard.press("j")
    page.keyboard.type("INR measures how long your blood takes to clot.\nWe keep it in range.")
    screenshot("work-sft")
    submit_by_keyboard(page, sft)
    assert answer_of(expert, sft) == {
        "response": "INR measures how long your blood takes to clot.\nWe keep it in range."}

    start(page, classification)
    page.keyboard.press("1")
    screenshot("work-classification")
    submit_by_keyboard(page, classification)
    assert answer_of(expert, classification) == {"specialty": "cardiology"}


@pytest.mark.django_db(transaction=True)
def test_a_refused_answer_is_marked_and_keeps_what_was_typed(page, login, screenshot,
                                                             live_server, taxonomy):
    owner = factories.customer()
    project = every_kind_project(owner, live_server)
    expert = factories.expert()
    login(expert)
    start(page, project)
    page.locator("#id_q-rewrite").fill("A rewrite that must survive the refusal.")
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator("#question-verdict .errorlist")).to_contain_text(
        "This question is required.")
    expect(page.locator("#question-order .errorlist")).to_contain_text(
        "This question is required.")
    expect(page.locator("#id_q-rewrite")).to_have_value(
        "A rewrite that must survive the refusal.")
    expect(page.locator("#question-verdict input").first).to_be_focused()
    screenshot("work-refused")
    assert not Annotation.objects.exists()

    rows = page.locator("#question-order .work-rank")
    rows.filter(has_text=COMPLETIONS[2]).drag_to(rows.first)
    expect(page.locator("#q-order-status")).to_contain_text("Ranked, best first: C, A, B.")
    page.keyboard.press("k")  # back to the issues, whose checkbox then has the focus
    page.keyboard.press("0")  # none of these
    page.keyboard.press("k")
    page.keyboard.press("1")  # safe
    page.locator("#question-better").get_by_text("Tie", exact=True).click()
    expect(page.locator("#question-better .work-strength input").first).to_be_disabled()
    page.locator("#question-findings").get_by_text("Nothing to mark").click()
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator(".messagelist")).to_contain_text("Answer saved.")
    assert Annotation.objects.get().answer == {
        "verdict": "safe", "issues": [], "order": [2, 0, 1],
        "better": {"choice": "tie", "strength": 1},
        "rewrite": "A rewrite that must survive the refusal.", "findings": []}


@pytest.mark.django_db(transaction=True)
def test_more_time_a_comment_a_skip_and_the_countdown(page, login, screenshot, taxonomy):
    owner = factories.customer()
    project = factories.add_items(factories.project(
        owner, preset="sft", activate=False, assignment_ttl_s=240,
        instructions="Answer as you would to a patient."), [
            {"prompt": "What does a high INR mean?"}, {"prompt": "What is atrial fibrillation?"}])
    expert = factories.expert()
    login(expert)
    start(page, project)
    lease = Assignment.objects.get(expert=expert)
    clock = page.locator("#lease-clock")
    expect(clock).to_have_class(re.compile("work-clock-warning"))  # under five minutes
    expect(clock).to_contain_text("running out")
    first = clock.locator(".work-clock-value").inner_text()
    expect(clock.locator(".work-clock-value")).not_to_have_text(first)  # it runs

    page.evaluate("window.stillHere = true")
    page.keyboard.press("e")
    expect(page.locator(".messagelist")).to_contain_text("You have until")
    before = lease.expires_at
    lease.refresh_from_db()
    assert lease.expires_at > before

    page.keyboard.press("c")
    expect(page.locator("#comment-body")).to_be_focused()
    page.keyboard.type("Should the answer mention the target range?")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator(".work-comment")).to_contain_text("Should the answer mention")
    assert page.evaluate("window.stillHere") is True  # no reload: nothing typed was lost
    assert Comment.objects.get().author == expert

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    screenshot("work-shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("s")
    expect(page.locator("#skip-reason")).to_be_focused()
    screenshot("work-skip")
    page.keyboard.type("I have a conflict of interest with this prompt's author")
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("Item skipped")
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SKIPPED
    assert lease.skip_reason == "I have a conflict of interest with this prompt's author"

    following = Assignment.objects.exclude(pk=lease.pk).get(expert=expert)
    expect(page).to_have_url(re.compile(rf"/workspace/work/{following.pk}/$"))
    Assignment.objects.filter(pk=following.pk).update(
        expires_at=timezone.now() + timedelta(seconds=3))
    page.reload()
    expect(page.locator("#lease-expired")).to_be_visible(timeout=8000)
    expect(page.locator("#submit-answer")).to_be_disabled()
    expect(clock).to_contain_text("time is up")
    screenshot("work-expired")


@pytest.mark.django_db(transaction=True)
def test_an_hourly_lease_counts_active_time_from_the_pages_heartbeats(page, login, screenshot,
                                                                      taxonomy, settings):
    settings.HEARTBEAT_INTERVAL_S = 1
    owner = factories.customer()
    factories.fund(factories.organization_of(owner), "500.00")
    project = factories.project(owner, items=2, contract="hourly", hourly_rate="40.00",
                                weekly_cap_hours=Decimal(20))
    expert = factories.expert()
    lease = next_assignment(expert, project).assignment
    login(expert)
    page.goto(f"/workspace/work/{lease.pk}/")
    active = page.locator("#active-time")
    expect(active).to_contain_text("Active time on this item 0:00 · this week 0.0 of 20.0 h")
    expect(active.locator(".work-active-item")).to_have_text(re.compile(r"^0:0[3-9]$"))
    screenshot("work-hourly-active-time")
    lease.refresh_from_db()
    assert lease.active_s >= 3
    assert lease.last_active_at > lease.leased_at
