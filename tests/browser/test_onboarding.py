"""A newcomer's way in, in a real browser: sign up as an expert, be verified by an operator
in the admin, upload a credential, pass a qualification test before the countdown ends."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.models import Credential, Domain, Expertise
from quality import qualifications
from tests import factories

User = get_user_model()
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"},
          {"name": "note", "type": "text"}]
QUESTIONS = [{"name": "better", "kind": "pairwise", "field": "completions"},
             {"name": "verdict", "kind": "label", "options": ["safe", "unsafe"]},
             {"name": "drugs", "kind": "spans", "field": "note", "options": ["drug"],
              "required": False}]


def cardiology_test(*, time_limit_s: int = 600):
    items = [{"data": {"prompt": f"Chest pain case {k}: which advice is right?",
                       "completions": [f"Call emergency services now ({k}).",
                                       f"Wait and see until tomorrow ({k})."],
                       "note": "Give aspirin 300 mg chewed."},
              "gold": {"better": "A", "verdict": "safe"}} for k in range(3)]
    return qualifications.create_qualification_test(
        user=User.objects.filter(is_staff=True).first() or factories.staff_user(),
        domain=Domain.objects.get(slug="medicine-cardiology"), name="Cardiology basics",
        instructions="Pick the safer advice, and mark any drug named in the note.",
        fields=FIELDS, questions=QUESTIONS, items=items, items_per_attempt=2,
        pass_mark="0.75", time_limit_s=time_limit_s)


def sign_out(page) -> None:
    page.context.clear_cookies()


@pytest.mark.django_db(transaction=True)
def test_a_visitor_becomes_a_qualified_expert(taxonomy, page, login, screenshot, settings,
                                              tmp_path):
    settings.MEDIA_ROOT = tmp_path
    operator = factories.staff_user(username="operator")
    cardiology_test()

    page.goto("/workspace/login/")
    screenshot("login-with-sign-up-links")
    page.get_by_role("link", name="Sign up as an expert").click()
    expect(page.locator("h1")).to_have_text("Sign up as an expert")
    page.fill("#id_username", "dr-house")
    page.fill("#id_email", "house@example.com")
    page.fill("#id_password", "short")
    page.fill("#id_full_name", "Dr. Gregory House")
    page.select_option("#id_highest_degree", "md")
    page.fill("#id_field_of_study", "Diagnostic medicine")
    page.get_by_label("Cardiology", exact=True).check()
    page.get_by_label("Neurology", exact=True).check()
    page.fill("#id_languages", "en")
    page.click("input[type=submit]")
    expect(page.locator(".field-password .errorlist")).to_contain_text("too short")
    screenshot("signup-expert-error")
    page.fill("#id_password", factories.PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("An operator will verify your account")
    screenshot("home-new-expert")

    page.get_by_role("link", name="Qualification tests").first.click()
    expect(page.locator(".errornote")).to_contain_text("once an operator has verified")

    sign_out(page)
    login(operator)
    page.goto("/admin/accounts/expertprofile/?verification__exact=pending")
    row = page.locator("#result_list tr", has_text="Dr. Gregory House")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "verify")
    screenshot("admin-verify-expert")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Verified 1 expert(s)")

    sign_out(page)
    login(User.objects.get(username="dr-house"))
    page.goto("/workspace/profile/")
    expect(page.locator("#verification")).to_contain_text("Verified")
    page.select_option("#credential-form #id_degree", "md")
    page.fill("#credential-form #id_institution", "Johns Hopkins University")
    page.fill("#credential-form #id_year", "1991")
    page.set_input_files("#credential-form #id_evidence_file", files=[
        {"name": "diploma.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.click("#credential-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("an operator will review")
    expect(page.locator("#credentials + table")).to_contain_text("Waiting for review")
    screenshot("profile")
    assert Credential.objects.get().evidence_file.read() == PDF

    sign_out(page)
    login(operator)
    page.goto("/admin/accounts/credential/")
    evidence = page.get_by_role("link", name="Open evidence")
    opened = page.request.get(evidence.get_attribute("href"))
    assert opened.headers["content-type"] == "application/pdf" and opened.body() == PDF
    page.locator("#result_list input.action-select").check()
    page.select_option("select[name=action]", "accept")
    screenshot("admin-credentials")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Accepted 1 credential(s)")

    sign_out(page)
    login(User.objects.get(username="dr-house"))

    page.goto("/workspace/qualifications/")
    screenshot("qualifications")
    page.get_by_role("button", name="Start test").click()
    countdown = page.locator("#countdown-value")
    expect(countdown).to_have_text(re.compile(r"^(10:00|9:\d\d)$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first)
    items = page.locator(".ws-item")
    expect(items).to_have_count(2)
    for n in range(2):
        item = items.nth(n)
        item.get_by_label("A is better").check()
        item.get_by_label("safe", exact=True).check()
    note = items.first.locator(".ws-field-text").nth(1).locator(".ws-pre")
    note.evaluate("""element => {
        const text = element.firstChild;
        const range = document.createRange();
        range.setStart(text, 5);
        range.setEnd(text, 12);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }""")
    items.first.get_by_role("button", name="Mark selection as drug").click()
    expect(items.first.locator(".ws-spans li")).to_contain_text("drug: “aspirin”")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("qualification-attempt")
    page.click("#submit-attempt")
    expect(page.locator("#result")).to_contain_text("Passed")
    expect(page.locator("#result")).to_contain_text("qualified in Cardiology")
    screenshot("qualification-passed")
    assert Expertise.objects.get(expert__user__username="dr-house",
                                 domain__slug="medicine-cardiology").level == "qualified"

    page.get_by_role("link", name="your domains").click()
    expect(page.locator("#domains + table")).to_contain_text("Qualified")
    expect(page.locator("#credentials + table")).to_contain_text("Verified")
    screenshot("profile-qualified")


@pytest.mark.django_db(transaction=True)
def test_a_visitor_signs_up_as_a_customer(page, screenshot):
    page.goto("/workspace/login/")
    page.get_by_role("link", name="sign up as a customer").click()
    page.fill("#id_username", "lab-owner")
    page.fill("#id_email", "owner@lab.example.com")
    page.fill("#id_password", factories.PASSWORD)
    page.fill("#id_organization", "Cardio Lab")
    screenshot("signup-customer")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("you are its owner")
    expect(page.locator("h1")).to_contain_text("Welcome")


@pytest.mark.django_db(transaction=True)
def test_the_countdown_ends_and_the_attempt_is_explained(taxonomy, page, login, screenshot):
    cardiology_test(time_limit_s=3)
    login(factories.expert(qualified=False))
    page.goto("/workspace/qualifications/")
    page.get_by_role("button", name="Start test").click()
    submit = page.locator("#submit-attempt")
    expect(submit).to_be_disabled(timeout=6_000)
    expect(page.locator("#countdown")).to_contain_text("Time is up: 0:00")
    screenshot("qualification-time-up")
    page.reload()
    expect(page.locator("#result")).to_contain_text("Time ran out")
    expect(page.locator("#result")).to_contain_text("counts as not passed")
