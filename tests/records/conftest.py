"""Fixtures for the records' tests: a generated month in an in-process store,
and (re-exported) the console's and the whole bot's fixtures."""

from __future__ import annotations

import fakeredis
import pytest

from bot.records.book import RecordBook
from bot.records.demo import generate
from bot.storage.keys import KeyBuilder
from dialogs.directory import load_directory
from tests.console.conftest import (  # noqa: F401  (fixtures)
    accounts, add_account, app, client, console_catalog_cache, console_env, make_console_app,
)
from tests.e2e.conftest import bot, bot_env  # noqa: F401  (fixtures)

MONTH = "2026-11"


@pytest.fixture(scope="session")
def directory():
    return load_directory("hyogo")


@pytest.fixture(scope="module")
def generated(directory):
    """(client, keys, plan): 300 consultations of November 2026 written through RecordBook."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    keys = KeyBuilder(secret=b"records-test-pseudonym-secret-0123")
    plan = generate(client, keys, directory, month=MONTH, count=300, seed=7)
    return client, keys, plan


@pytest.fixture(scope="module")
def month_records(generated):
    client, keys, _ = generated
    return RecordBook(client, keys).month(MONTH)
