"""``slow`` for the NLU tests that read the whole corpus or every labelled set
(seconds to a minute each on a small machine); the rest stay in the inner loop
(``-m "not slow"``). test_retrain.py marks itself (retraining)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Fixtures that read the whole corpus (``corpus``) or run every blind set
#: through the whole bot (``reports``): every test using one is slow.
SLOW_FIXTURES = {"corpus", "reports"}
#: Tests that do the same in their own body.
SLOW_TESTS = {
    ("test_sets.py", "test_the_report_command_names_every_miss"),  # a blind set through the whole bot
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.parent != HERE:
            continue
        name = getattr(item, "originalname", item.name)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or (path.name, name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
