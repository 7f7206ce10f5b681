"""The workspace's frame in a real browser: sign-in through the form, the menu by role, and
API documentation that loads without the internet."""

import re

import pytest
from playwright.sync_api import expect

from tests import factories


@pytest.mark.django_db(transaction=True)
def test_a_qa_lead_signs_in_through_the_form_and_sees_the_workspace(page, screenshot):
    owner = factories.customer()
    factories.member(factories.organization_of(owner), role="qa_lead", username="qa-lead")
    page.goto("/workspace/")
    expect(page).to_have_url(re.compile(r"/workspace/login/\?next=/workspace/$"))
    screenshot("login")
    page.fill("#id_username", "qa-lead")
    page.fill("#id_password", factories.PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_contain_text("Welcome")
    screenshot("home-qa-lead")
    page.click("#logout-form button")
    expect(page.locator("#content")).to_contain_text("Logged out")


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_refused_with_a_message(page):
    factories.customer(username="someone")
    page.goto("/workspace/login/")
    page.fill("#id_username", "someone")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("correct username and password")


@pytest.mark.django_db(transaction=True)
def test_api_docs_load_every_asset_from_this_server(page, live_server, screenshot):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Expert annotator")
    screenshot("api-docs")
    assert requested and all(url.startswith(live_server.url) or url.startswith("data:")
                             for url in requested), requested
    requested.clear()
    page.goto("/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Expert annotator")
    page.wait_for_load_state("networkidle")
    own = (live_server.url, f"blob:{live_server.url}", "data:")  # blob: Redoc's own worker
    assert requested and all(url.startswith(own) for url in requested), requested
