"""The dashboard in a real browser: Playwright (PyPI) driving Debian's chromium (installed by
scripts/setup; Playwright's own browser download needs a host these machines cannot reach),
against the session-wide stack of tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 90_000  # generous: two cores shared with the workers, the emulator's ffmpeg and other engineers


# Module-scoped, not session-scoped: Playwright's sync API keeps an asyncio loop marked running in
# this thread while it is started, so every async test after it in the same run (the unit tests,
# pytest-asyncio) fails with "cannot be called from a running event loop". Stopped after the
# browser tests' module, the loop is gone before anything else runs.
@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance):
    assert Path(CHROMIUM).exists(), "chromium is missing: scripts/setup installs it (apt-get install chromium)"
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def dashboard_url(pipeline) -> str:
    return pipeline.api_url


@pytest.fixture
def context(browser, dashboard_url):
    context = browser.new_context(base_url=dashboard_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard_url)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_in(context, dashboard_url: str) -> None:
    """A session cookie in the context without the form (the sign-in test drives the form)."""
    answer = context.request.post(
        f"{dashboard_url}/api/session",
        headers={"origin": dashboard_url, "x-requested-with": "test"},
        data={"api_key": API_KEY},
    )
    assert answer.status == 201, answer.text()


@pytest.fixture
def signed_in(context, page, dashboard_url):
    sign_in(context, dashboard_url)
    return page


@pytest.fixture(scope="session")
def api(pipeline):
    with httpx.Client(base_url=pipeline.api_url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        yield client
