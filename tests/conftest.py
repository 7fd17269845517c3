"""Shared fixtures, and the markers that split the suite.

The real redis-server fixture lives in tests/redis_server.py, the stand-in LINE
API in tests/fake_line.py, the headless chromium in tests/browser.py.

Markers (registered in pyproject.toml; ``--strict-markers``):

* ``e2e``: starts real processes (``python -m bot ...``, gunicorn, the
  Procfile's lines, redis-servers of its own) or the whole web+worker stack.
  Marked here: every test under tests/e2e/, and every test using that stack's
  ``bot_env`` (tests/e2e/conftest.py) elsewhere; otherwise a test that starts
  a process carries ``@pytest.mark.e2e`` itself (or its module a ``pytestmark``).
* ``browser``: drives chromium; marked here, for every test that uses the
  ``browser`` fixture.
* ``slow``: takes more than about 2 s. Marked here on every e2e and browser
  test; other slow tests carry it themselves (or their directory's conftest
  marks them, as tests/dialogs/nlu/conftest.py does).

So ``python -m pytest -n 2 -m "not slow"`` is the inner loop (no process
started, no browser, no retraining), and ``-m e2e`` / ``-m browser`` pick
those out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dialogs.hours import TOKYO

pytest_plugins = ["tests.redis_server", "tests.fake_line", "tests.browser"]

TESTS = Path(__file__).resolve().parent
#: Directories whose every test runs the whole stack (web app, worker threads,
#: a real redis-server, the stand-in LINE over HTTP) or real processes.
E2E_DIRS = (TESTS / "e2e",)
#: Modules whose every test starts a process, marked from here because the
#: module is being reworked elsewhere; move the mark into the module later.
E2E_MODULES = (
    TESTS / "test_simulator.py",  # `python -m bot simulate` / `hotlines` in a subprocess, each test
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        fixtures = getattr(item, "fixturenames", ())
        if (path in E2E_MODULES or any(path.is_relative_to(d) for d in E2E_DIRS)
                or "bot_env" in fixtures):
            item.add_marker(pytest.mark.e2e)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("e2e") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)

    # The order (stable: within each group, as collected). First the slow tests that
    # start no process: the longest single tests (a retrain, the whole corpus read),
    # which under pytest-xdist must not start last and keep one worker busy alone at
    # the end (xdist's `load` hands each worker a first run of consecutive tests, so
    # they are few on purpose: all slow tests first would all go to one worker).
    # Browser tests last: Playwright's sync API leaves an asyncio loop marked as
    # running in the main thread once the session's chromium is started
    # (tests/browser.py), which asyncio.run() in a later test would refuse.
    def group(item: pytest.Item) -> int:
        if item.get_closest_marker("browser"):
            return 2
        if item.get_closest_marker("slow") and not item.get_closest_marker("e2e"):
            return 0
        return 1

    items.sort(key=group)


@pytest.fixture(scope="session")
def compiled_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One compiled-files cache (BOT_CATALOG_CACHE) for the processes the tests
    start, shared by every xdist worker: catalogs and the parsed NLU weights are
    named after their sources' content and written atomically, so sharing is
    safe, and each process after the first loads the weights in 0.1 s, not 1.2 s."""
    shared = tmp_path_factory.getbasetemp().parent / "compiled"
    shared.mkdir(exist_ok=True)
    return str(shared)


@pytest.fixture(scope="session")
def catalogs(tmp_path_factory):
    from dialogs.i18n import compile_catalogs

    return compile_catalogs(cache_dir=tmp_path_factory.mktemp("mo"))


@pytest.fixture(scope="session")
def dialogue(catalogs):
    from dialogs.engine import Dialogue

    return Dialogue.load("hyogo", catalogs=catalogs)


@pytest.fixture(scope="session")
def _loaded_dialogues() -> dict[Any, Any]:
    return {}


@pytest.fixture
def dialogue_loaded_once(monkeypatch: pytest.MonkeyPatch, _loaded_dialogues: dict[Any, Any]) -> None:
    """Apps built in this test (``create_app``, ``build_runtime``) compile the catalogs
    and load each profile's dialogue once per test session (per xdist worker), not
    once per app.

    Loading takes about a second, and checking and compiling the catalogs a twentieth
    of one, for each of hundreds of apps; the app never changes either (it shares one
    dialogue across its threads anyway), and the files they are read from do not change
    during a session. Everything else is still built anew for each app.
    """
    import bot.runtime

    real_load = bot.runtime.Dialogue
    real_compile = bot.runtime.compile_catalogs

    def compile_once(*args, **kwargs):
        key = ("catalogs", repr(args), repr(sorted(kwargs.items())))
        if key not in _loaded_dialogues:
            _loaded_dialogues[key] = real_compile(*args, **kwargs)
        return _loaded_dialogues[key]

    class LoadedOnce(real_load):  # type: ignore[misc, valid-type]
        @classmethod
        def load(cls, profile="hyogo", **kwargs):  # type: ignore[override]
            # Any catalogs compiled from the same files will do (each app's own cache dir).
            key = ("dialogue", str(profile), repr(sorted((k, v) for k, v in kwargs.items() if k != "catalogs")))
            if key not in _loaded_dialogues:
                _loaded_dialogues[key] = real_load.load(profile, **kwargs)
            return _loaded_dialogues[key]

    monkeypatch.setattr(bot.runtime, "compile_catalogs", compile_once)
    monkeypatch.setattr(bot.runtime, "Dialogue", LoadedOnce)


def tokyo(text: str) -> datetime:
    """An instant in Tokyo time, e.g. tokyo("2026-11-25 15:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)
