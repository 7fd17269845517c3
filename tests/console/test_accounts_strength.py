"""Issue 13, finding 10: common and guessable passwords are refused (zxcvbn),
with its reason in the message, wherever a password is set."""

from __future__ import annotations

import pytest

from bot.console.accounts import AccountError, Accounts, check_password
from bot.storage.keys import KeyBuilder
from tests.console.conftest import CHEAP_HASHER, PASSWORD


@pytest.fixture
def accounts(redis_client) -> Accounts:
    return Accounts(redis_client, KeyBuilder(secret=b"strength-test-secret-0123456789"), hasher=CHEAP_HASHER)


@pytest.mark.parametrize("password", [
    "password1234",          # the review's example
    "Password1234",
    "qwertyuiop12",          # a keyboard row
    "iloveyou2025!",         # a common phrase and a year
    "P@ssw0rd12345",         # l33t
    "123456789012",
    "aaaaaaaaaaaa1",
    "1qaz2wsx3edc",          # a keyboard walk
    "letmein12345",
])
def test_common_and_guessable_passwords_are_refused(password):
    with pytest.raises(AccountError, match="too easy to guess"):
        check_password(password, "aoki")


def test_the_message_gives_the_reason_and_the_rule():
    with pytest.raises(AccountError) as caught:
        check_password("password1234", "aoki")
    message = str(caught.value)
    assert "This is a very common password." in message
    assert "at least 12 characters" in message and "zxcvbn" in message


def test_words_of_the_site_and_the_name_do_not_make_a_password():
    with pytest.raises(AccountError, match="too easy to guess"):
        check_password("netsoudan2026", "sato")
    with pytest.raises(AccountError, match="account name"):
        check_password("sato-sato-2026-x", "sato")


@pytest.mark.parametrize("password", [PASSWORD, "brand-New-password-3", "correct horse battery staple 9",
                                      "そうだんいん2026ねん", "Local-" + "Xq3_vB9kLp2TzW7n"])
def test_strong_passwords_pass(password):
    assert check_password(password, "aoki") == password


def test_adding_and_changing_refuse_a_weak_password(accounts):
    with pytest.raises(AccountError, match="too easy to guess"):
        accounts.add("aoki", "counsellor", "password1234")
    assert accounts.get("aoki") is None
    accounts.add("aoki", "counsellor", PASSWORD)
    with pytest.raises(AccountError, match="too easy to guess"):
        accounts.set_password("aoki", "password1234")
    assert accounts.verify("aoki", PASSWORD) is not None


def test_a_long_passphrase_is_judged_quickly():
    import time

    started = time.perf_counter()
    check_password("a sentence long enough to be a passphrase, with 42 in it, " * 4, "aoki")
    assert time.perf_counter() - started < 1.0
