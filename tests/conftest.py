"""Shared fixtures. The real redis-server fixture lives in tests/redis_server.py."""

from __future__ import annotations

from datetime import datetime

import pytest

from dialogs.hours import TOKYO

pytest_plugins = ["tests.redis_server", "tests.fake_line", "tests.browser"]


@pytest.fixture(scope="session")
def catalogs(tmp_path_factory):
    from dialogs.i18n import compile_catalogs

    return compile_catalogs(cache_dir=tmp_path_factory.mktemp("mo"))


@pytest.fixture(scope="session")
def dialogue(catalogs):
    from dialogs.engine import Dialogue

    return Dialogue.load("hyogo", catalogs=catalogs)


def tokyo(text: str) -> datetime:
    """An instant in Tokyo time, e.g. tokyo("2026-11-25 15:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)
