"""`python -m bot users ...` as an operator runs it, against a real redis-server:
the password comes on stdin, mistakes are one line on stderr with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.console.accounts import Accounts
from bot.storage.keys import KeyBuilder
from tests.console.conftest import CONSOLE_SECRET, ID_SECRET, PASSWORD

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e  # every test starts `python -m bot users`


@pytest.fixture
def env(redis_server_url: str, redis_client) -> dict[str, str]:
    """The web processes' settings (redis_client: an empty database)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "BOT_", "REDIS_"))}
    return {**environment, "REDIS_URL": redis_server_url, "BOT_ID_SECRET": ID_SECRET,
            "BOT_CONSOLE_SECRET": CONSOLE_SECRET, "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="}


@pytest.fixture
def accounts(redis_client) -> Accounts:
    return Accounts(redis_client, KeyBuilder(secret=ID_SECRET.encode()))


def users(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "users", *args], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def refused(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_add_reads_the_password_from_stdin(env, accounts):
    result = users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert accounts.verify("aoki", PASSWORD).role == "counsellor"
    result = users(env, "add", "suzuki", "--role", "supervisor", stdin=PASSWORD)
    assert result.returncode == 0 and accounts.get("suzuki").is_supervisor


def test_disable_refuses_the_account(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    token = accounts.issue_token("aoki")
    result = users(env, "disable", "aoki")
    assert result.returncode == 0, result.stderr
    assert accounts.get("aoki").disabled
    assert accounts.verify("aoki", PASSWORD) is None and accounts.account_for_token(token) is None
    assert users(env, "enable", "aoki").returncode == 0
    assert accounts.verify("aoki", PASSWORD) is not None


def test_token_prints_a_new_token_once(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    first = users(env, "token", "aoki")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert "\n" not in token and len(token) >= 43
    assert accounts.account_for_token(token).name == "aoki"
    second = users(env, "token", "aoki").stdout.strip()
    assert accounts.account_for_token(token) is None
    assert accounts.account_for_token(second).name == "aoki"


def test_passwd_and_list(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    users(env, "add", "suzuki", "--role", "supervisor", stdin=PASSWORD + "\n")
    users(env, "disable", "suzuki")
    assert users(env, "passwd", "aoki", stdin="brand-New-password-3\n").returncode == 0
    assert accounts.verify("aoki", "brand-New-password-3") is not None
    listed = users(env, "list").stdout.splitlines()
    assert [line.split() for line in listed] == [["aoki", "counsellor", "enabled", "-"],
                                                 ["suzuki", "supervisor", "disabled", "-"]]


@pytest.mark.parametrize(
    "args, stdin, fragment",
    [
        (("add", "aoki", "--role", "counsellor"), "short\n", "too short"),
        (("add", "aoki", "--role", "counsellor"), "", "no password on stdin"),
        (("add", "Aoki!", "--role", "counsellor"), PASSWORD, "is not valid"),
        (("add", "aoki", "--role", "admin"), PASSWORD, "invalid choice"),
        (("disable", "ghost"), "", "no account 'ghost'"),
        (("token", "ghost"), "", "no account 'ghost'"),
        (("passwd", "ghost"), PASSWORD, "no account 'ghost'"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(env, accounts, args, stdin, fragment):
    refused(users(env, *args, stdin=stdin), fragment)
    assert accounts.list() == []


def test_adding_a_name_twice_is_refused(env, accounts):
    users(env, "add", "aoki", "--role", "supervisor", stdin=PASSWORD + "\n")
    refused(users(env, "add", "aoki", "--role", "counsellor", stdin="another-Password-2\n"), "already exists")
    assert accounts.get("aoki").is_supervisor


def test_without_redis_the_account_would_be_forgotten(env):
    del env["REDIS_URL"]
    refused(users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD), "REDIS_URL is not set")


def test_the_web_settings_are_checked(env):
    del env["BOT_CONSOLE_SECRET"]
    refused(users(env, "list"), "BOT_CONSOLE_SECRET is not set")


def test_an_unreachable_redis_is_one_line(env):
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    refused(users(env, "list"), "not reachable")
