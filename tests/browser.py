"""pytest plugin: ``browser``, a headless Debian chromium driven by Playwright.

Registered in tests/conftest.py. Never downloads a browser (no ``playwright
install``): it uses ``chromium`` from PATH. Without chromium or playwright the
browser tests are skipped locally, but fail when ``CI`` is set, so a CI image
that lost them cannot pass silently.

One chromium per test session (with pytest-xdist: per worker process), started
by the first test that asks for it; each test opens its own
``browser.new_context(...)`` (cookies, storage, permissions, viewport) and
closes it, so tests share the process and nothing else. tests/conftest.py marks
every test using ``browser`` as ``browser`` (and ``slow``), and runs them last:
Playwright's sync API keeps an asyncio loop marked as running in the main
thread while it is started, which ``asyncio.run()`` in a later test would
refuse.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

INSTALL_HINT = ("install Debian's chromium (`apt-get install chromium`) and the test extra "
                "(`pip install -e '.[test]'`, which brings playwright); never `playwright install`")


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so browser tests may not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        unavailable(f"chromium is not on PATH; {INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(f"playwright is not installed; {INSTALL_HINT}")
    return sync_playwright


@pytest.fixture(scope="session")
def browser(chromium_path, sync_playwright) -> Iterator:
    """The session's chromium; give each test its own ``browser.new_context()``."""
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        except Exception as exc:  # a chromium that cannot start is a broken image, not a pass
            unavailable(f"chromium at {chromium_path} did not start: {exc}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(autouse=True)
def _close_contexts_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever context a browser test left open is closed after it: the next test's chromium is clean."""
    if "browser" not in request.fixturenames:
        yield
        return
    launched = request.getfixturevalue("browser")
    before = set(launched.contexts)
    yield
    for context in launched.contexts:
        if context not in before:
            context.close()
