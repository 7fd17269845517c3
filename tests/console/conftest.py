"""Fixtures for the counsellor console: the real app on a real redis-server.

``console_env``: the settings of a production bot (LINE credentials pointed at
the stand-in ``fake_line``, REDIS_URL at the test redis-server, all secrets set).
``make_console_app(blueprints=..., **settings)`` builds an app, registering any
test-only blueprints before the first request (its accounts hash with cheap argon2
parameters unless ``cheap_hashing=False``); ``app``/``client`` are the plain
one. ``add_account`` creates an account; ``login`` logs a test client in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from bot.console.accounts import Account, Accounts
from bot.console.auth import ACCOUNTS_EXTENSION, accounts_of
from bot.web import create_app, runtime_of
from tests.conftest import _loaded_dialogues  # noqa: F401  (modules import it from here with the console's fixtures)

PASSWORD = "correct-Horse-battery-9"
CONSOLE_SECRET = "console-test-session-secret-0123456789abcdef"
ID_SECRET = "console-test-pseudonym-secret-0123456789"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def console_catalog_cache(compiled_cache: str) -> str:
    return compiled_cache


@pytest.fixture
def console_env(fake_line, redis_settings: dict[str, str], console_catalog_cache: str) -> dict[str, str]:
    return {
        "LINE_CHANNEL_SECRET": "console-test-channel-secret-0123456789",
        "LINE_CHANNEL_ACCESS_TOKEN": fake_line.access_token,
        "LINE_API_BASE_URL": fake_line.base_url,
        **redis_settings,
        "BOT_ID_SECRET": ID_SECRET,
        "BOT_CONSOLE_SECRET": CONSOLE_SECRET,
        "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=",
        "BOT_CATALOG_CACHE": console_catalog_cache,
    }


@pytest.fixture
def make_console_app(console_env: dict[str, str], redis_client,
                     dialogue_loaded_once: None) -> Iterator[Callable[..., Flask]]:
    """An app factory; the redis-server is flushed first (``redis_client``).

    Loading the dialogue takes about a second and these tests do not change it,
    so it is loaded once per test session (``dialogue_loaded_once``, tests/conftest.py);
    everything else is built anew for each app.
    """
    apps: list[Flask] = []

    def make(blueprints: Iterable[Blueprint] = (), cheap_hashing: bool = True, **settings: Any) -> Flask:
        app = create_app({"TESTING": True, **console_env, **settings})
        if cheap_hashing:
            # argon2 as the app has it takes ~0.2 s a hash on a small machine; tests that
            # do not measure the hasher log in often. Still argon2id, with small parameters.
            runtime = runtime_of(app)
            app.extensions[ACCOUNTS_EXTENSION] = Accounts(runtime.client, runtime.keys, hasher=CHEAP_HASHER)
        for blueprint in blueprints:
            app.register_blueprint(blueprint)
        apps.append(app)
        return app

    yield make
    for app in apps:
        runtime_of(app).stop()


@pytest.fixture
def app(make_console_app) -> Flask:
    return make_console_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def accounts(app: Flask) -> Accounts:
    return accounts_of(app)


@pytest.fixture
def add_account(accounts: Accounts) -> Callable[..., Account]:
    def add(name: str, role: str = "counsellor", password: str = PASSWORD) -> Account:
        return accounts.add(name, role, password)
    return add


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = _CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD, **form: str):
    """Log ``client`` in through the form, as a browser does; returns the POST's response."""
    page = client.get("/console/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/console/login", data={"name": name, "password": password,
                                               "csrf_token": token, **form})


def session_csrf(client: FlaskClient) -> str:
    """The CSRF token of ``client``'s current session."""
    with client.session_transaction() as session:
        return session["csrf"]
