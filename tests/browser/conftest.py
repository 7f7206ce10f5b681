"""A real browser against the real server: Debian's Chromium, driven by Playwright, on the
live server pytest-django starts for each test.

Playwright's synchronous API runs an event loop in the test's thread; Django refuses ORM
calls from a thread with a running loop unless told that this is deliberate, which in a test
that sets up data and then drives a browser it is.

Screenshots go to ``$SCREENSHOT_DIR`` (default: a folder under the system's temporary
directory, never the repository) so that a person can look at every page kind.
"""

import os
import shutil
import tempfile
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from playwright.sync_api import expect

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Assertions wait for the page as long as actions do: on a loaded two-core machine a page with
# a large script (the API docs) can take longer than Playwright's five-second default.
expect.set_options(timeout=15_000)

SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR")
                      or Path(tempfile.gettempdir()) / "annomarket-screenshots")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not path:
        pytest.fail("Browser tests need Chromium: `apt-get install chromium` (`make browser` "
                    "and .ci/run install it).")
    return path


@pytest.fixture(scope="session")
def live_server():
    """pytest-django's live server, started after the HTTPS redirect is turned off: its
    middleware reads the settings once, when the server starts, before any test's own
    settings apply."""
    from pytest_django.live_server_helper import LiveServer

    settings.SECURE_SSL_REDIRECT = False
    server = LiveServer(os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS", "localhost"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API carries on in a context of its own, where Django opens new
    # connection objects. Those must still hold what serialized_rollback restores the
    # migrations' data from, when the test database was set up (by an earlier test) before.
    serialized = {alias: connections[alias]._test_serialized_contents for alias in connections
                  if hasattr(connections[alias], "_test_serialized_contents")}
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab whose relative URLs go to the live server; console errors fail
    the test, since a page whose script broke is a broken page."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280,
                                                                     "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    context.close()
    assert not errors, f"the page's scripts failed: {errors}"


@pytest.fixture
def login(page, live_server):
    """Sign a user in by giving the browser a session cookie, as the login form would."""

    def sign_in(user):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                                   "value": session.session_key, "url": live_server.url}])
        return page

    return sign_in


@pytest.fixture
def screenshot(page):
    """Save the page as it looks now under SCREENSHOT_DIR/<name>.png."""

    def shoot(name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return shoot


@pytest.fixture
def taxonomy():
    """The domain taxonomy, which a data migration loads: a transactional test's closing
    flush wipes it, and the serialized copy meant to restore it is not always reachable from
    a browser test's thread, so tests that need domains load it again when it is gone."""
    from django.apps import apps

    from accounts.models import Domain

    if not Domain.objects.exists():
        import_module("accounts.migrations.0002_domain_taxonomy").load(apps, None)
