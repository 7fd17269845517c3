"""pytest plugin: ``browser``, a headless Debian chromium driven by Playwright.

Registered in tests/conftest.py. Never downloads a browser (no ``playwright
install``): it uses ``chromium`` from PATH. Without chromium or playwright the
browser tests are skipped locally, but fail when ``CI`` is set, so a CI image
that lost them cannot pass silently.
"""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL_HINT = ("install Debian's chromium (`apt-get install chromium`) and the test extra "
                "(`pip install -e '.[test]'`, which brings playwright); never `playwright install`")


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so browser tests may not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        unavailable(f"chromium is not on PATH; {INSTALL_HINT}")
    return path


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(f"playwright is not installed; {INSTALL_HINT}")
    return sync_playwright


@pytest.fixture
def browser(chromium_path, sync_playwright):
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        except Exception as exc:  # a chromium that cannot start is a broken image, not a pass
            unavailable(f"chromium at {chromium_path} did not start: {exc}")
        try:
            yield launched
        finally:
            launched.close()
