"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

The browser is the system one (``apt-get install chromium``), never one Playwright downloads, so
the tests skip, saying why, where ``/usr/bin/chromium`` (or ``$DJANGO_JOBS_CHROMIUM``) is missing.
Screenshots go to a temporary folder, or to ``docs/img`` with ``DJANGO_JOBS_SCREENSHOTS=docs/img``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = Path(os.environ.get("DJANGO_JOBS_CHROMIUM", "/usr/bin/chromium"))


def needs_chromium() -> pytest.MarkDecorator:
    """Mark a test as a browser test, skipped where Chromium or Playwright is missing."""
    try:
        import playwright.sync_api  # noqa: F401

        missing = "" if CHROMIUM.exists() else f"{CHROMIUM} not found; apt-get install chromium"
    except ImportError:
        missing = "playwright is not installed; pip install --group dev -e ."
    if missing and os.environ.get("DJANGO_JOBS_REQUIRE_BROWSER"):
        # CI sets this: there a missing browser is a broken set-up, not a reason to skip.
        raise RuntimeError(f"browser tests are required here, but {missing}")
    return pytest.mark.skipif(bool(missing), reason=f"browser test: {missing}")


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh Chromium page, 1280x800; the browser is started and closed per test.

    Playwright's sync API runs an asyncio loop in this thread, which Django's ORM takes for async
    code; the test's own ORM calls are plain sync code, so the guard is lifted while it runs. With
    the loop running, Django keeps this thread's connections apart from the ones it has outside
    it, so they are closed here, before the loop ends, or they would outlive the test database.
    """
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.set_default_timeout(20_000)
            yield context.new_page()
        finally:
            connections.close_all()
            browser.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[object, str], Path]:
    """Return ``shot(page, name)``: save a full-page PNG named ``name`` and return its path."""
    folder = os.environ.get("DJANGO_JOBS_SCREENSHOTS")
    target = (ROOT / folder) if folder else tmp_path

    def shot(page: object, name: str) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        assert path.stat().st_size > 1000, f"{path} looks empty"
        return path

    return shot


@pytest.fixture
def admin_login(live_server: Any, admin_user: Any) -> Callable[[object], None]:
    """Return ``login(page)``: sign ``page`` in to the admin as the superuser ``admin``."""

    def login(page: Any) -> None:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        # Pages without the admin's navigation sidebar leave room for the tables.
        page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")

    return login
