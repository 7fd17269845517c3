"""bot.console.accounts against a real redis-server: argon2 hashes, tokens stored
only as digests, disabling, the password rule, and no timing tell for unknown names."""

from __future__ import annotations

import hashlib

import pytest
from argon2 import PasswordHasher

from bot.console.accounts import (
    MIN_PASSWORD_CHARS,
    AccountError,
    Accounts,
    check_password,
)
from bot.storage.keys import KeyBuilder
from tests.fake_line import ManualClock
from tests.redis_server import all_keys, on_one_and_cluster

# Accounts and the console's actions run on one redis-server and on a Redis Cluster (issue 16).
pytestmark = on_one_and_cluster

PASSWORD = "correct-Horse-battery-9"
#: Tests that do not measure the hasher use cheap parameters: still argon2id.
CHEAP = dict(time_cost=1, memory_cost=64, parallelism=1)


class CountingHasher(PasswordHasher):
    """Counts verifications, to show unknown names cost one too."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**(kwargs or CHEAP))
        self.verified = 0

    def verify(self, hash, password):  # type: ignore[override]
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def keys() -> KeyBuilder:
    return KeyBuilder(secret=b"accounts-test-secret-0123456789")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def accounts(redis_client, keys, clock, hasher) -> Accounts:
    return Accounts(redis_client, keys, clock=clock, hasher=hasher)


def raw(redis_client, keys, name: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in redis_client.hgetall(keys.console_user(name)).items()}


def test_passwords_are_stored_as_argon2_hashes(redis_client, keys):
    accounts = Accounts(redis_client, keys)  # the default parameters the app uses
    account = accounts.add("aoki", "counsellor", PASSWORD)
    assert (account.name, account.role, account.disabled) == ("aoki", "counsellor", False)
    stored = raw(redis_client, keys, "aoki")
    assert stored["hash"].startswith("$argon2id$")
    assert PASSWORD not in repr(stored)
    assert accounts.verify("aoki", PASSWORD) == accounts.get("aoki")


def test_wrong_password_and_unknown_name_are_refused(accounts):
    accounts.add("aoki", "counsellor", PASSWORD)
    assert accounts.verify("aoki", PASSWORD + "x") is None
    assert accounts.verify("aoki", "") is None
    assert accounts.verify("nobody", PASSWORD) is None
    assert accounts.verify("Not A Name!", PASSWORD) is None
    assert accounts.verify("aoki", "x" * 100_000) is None


def test_unknown_names_cost_a_hash_verification_too(accounts, hasher):
    """So the time of an answer does not tell which names exist."""
    accounts.add("aoki", "counsellor", PASSWORD)
    for name, password in [("aoki", "wrong-Password-1"), ("nobody", "wrong-Password-1"),
                           ("Not A Name!", PASSWORD), ("aoki", "")]:
        before = hasher.verified
        assert accounts.verify(name, password) is None
        assert hasher.verified == before + 1, f"{name!r} was answered without hashing"


def test_disabled_accounts_are_refused_after_the_hash_was_checked(accounts, hasher):
    accounts.add("aoki", "counsellor", PASSWORD)
    accounts.disable("aoki")
    before = hasher.verified
    assert accounts.verify("aoki", PASSWORD) is None
    assert hasher.verified == before + 1
    assert accounts.get("aoki").disabled
    accounts.enable("aoki")
    assert accounts.verify("aoki", PASSWORD) is not None


def test_an_old_hash_is_rehashed_with_todays_parameters_on_login(redis_client, keys):
    Accounts(redis_client, keys, hasher=PasswordHasher(**CHEAP)).add("aoki", "counsellor", PASSWORD)
    old = raw(redis_client, keys, "aoki")["hash"]
    assert "m=64," in old
    today = PasswordHasher()
    assert Accounts(redis_client, keys, hasher=today).verify("aoki", PASSWORD) is not None
    new = raw(redis_client, keys, "aoki")["hash"]
    assert new != old and not today.check_needs_rehash(new)
    assert Accounts(redis_client, keys, hasher=today).verify("aoki", PASSWORD) is not None


def test_a_name_is_added_once(accounts):
    accounts.add("aoki", "supervisor", PASSWORD)
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("aoki", "counsellor", "another-Password-2")
    assert accounts.get("aoki").role == "supervisor"
    assert accounts.verify("aoki", PASSWORD) is not None


@pytest.mark.parametrize("name", ["", "Aoki", "-aoki", "aoki san", "a" * 33, "青木", "aoki:x", "../x"])
def test_names_follow_the_rule(accounts, name):
    with pytest.raises(AccountError, match="lower-case letters"):
        accounts.add(name, "counsellor", PASSWORD)


def test_roles_are_counsellor_or_supervisor(accounts):
    with pytest.raises(AccountError, match="counsellor, supervisor"):
        accounts.add("aoki", "admin", PASSWORD)


@pytest.mark.parametrize(
    "password, fragment",
    [
        ("", "empty"),
        ("Short-pw-1", "too short"),
        ("password1234", "too easy to guess: This is a very common password"),
        ("123456789012345", "too easy to guess"),
        ("qwertyuiop12", "too easy to guess"),
        ("Passw0rd!2024", "too easy to guess"),
        ("ああああああああああああ", "too easy to guess"),
        ("abababababab1", "too easy to guess"),
        ("my-aoki-Password-1", "account name"),
        ("Long-password-1" * 30, "longer than"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(accounts, password, fragment):
    with pytest.raises(AccountError, match=fragment) as caught:
        accounts.add("aoki", "counsellor", password)
    assert f"at least {MIN_PASSWORD_CHARS} characters" in str(caught.value) or fragment == "longer than"
    assert accounts.get("aoki") is None


@pytest.mark.parametrize("password", ["correct horse battery staple 9", "そうだんいん2026ねん", "Tr0ub4dor&3xyz",
                                      "こころのそうだんしつです"])
def test_sensible_passwords_pass(password):
    assert check_password(password, "aoki") == password


def test_a_token_is_stored_only_as_its_digest(accounts, redis_client, keys):
    accounts.add("aoki", "counsellor", PASSWORD)
    token = accounts.issue_token("aoki")
    assert len(token) >= 43
    assert accounts.account_for_token(token).name == "aoki"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert redis_client.get(keys.console_token(digest)) == b"aoki"
    stored: list[bytes] = []
    for key in all_keys(redis_client, "*"):
        kind = redis_client.type(key)
        stored.append(key)
        if kind == b"hash":
            stored += redis_client.hvals(key)
        elif kind == b"set":
            stored += redis_client.smembers(key)
        else:
            stored.append(redis_client.get(key))
    assert not any(token.encode() in value for value in stored)


def test_a_new_token_revokes_the_previous_one(accounts, redis_client):
    accounts.add("aoki", "counsellor", PASSWORD)
    first = accounts.issue_token("aoki")
    second = accounts.issue_token("aoki")
    assert first != second
    assert accounts.account_for_token(first) is None
    assert accounts.account_for_token(second).name == "aoki"
    assert len(all_keys(redis_client, "*token*")) == 1, "the old digest's mapping is gone"


def test_disabling_revokes_the_token_for_good(accounts):
    accounts.add("aoki", "counsellor", PASSWORD)
    token = accounts.issue_token("aoki")
    accounts.disable("aoki")
    assert accounts.account_for_token(token) is None
    with pytest.raises(AccountError, match="disabled"):
        accounts.issue_token("aoki")
    accounts.enable("aoki")
    assert accounts.account_for_token(token) is None, "enabling does not bring an old token back"
    assert accounts.account_for_token(accounts.issue_token("aoki")).name == "aoki"


@pytest.mark.parametrize("token", ["", "x", "a" * 10_000, None, 42])
def test_garbage_tokens_find_nothing(accounts, token):
    accounts.add("aoki", "counsellor", PASSWORD)
    accounts.issue_token("aoki")
    assert accounts.account_for_token(token) is None


def test_disable_and_password_change_move_not_before(accounts, clock):
    accounts.add("aoki", "counsellor", PASSWORD)
    assert accounts.get("aoki").not_before == 0
    clock.advance(10)
    accounts.set_password("aoki", "another-Password-2")
    assert accounts.get("aoki").not_before == clock.now
    assert accounts.verify("aoki", PASSWORD) is None
    assert accounts.verify("aoki", "another-Password-2") is not None
    clock.advance(10)
    accounts.disable("aoki")
    assert accounts.get("aoki").not_before == clock.now


def test_unknown_accounts_cannot_be_changed(accounts):
    for change in (accounts.disable, accounts.enable, accounts.issue_token, accounts.revoke_token):
        with pytest.raises(AccountError, match="no account 'ghost'"):
            change("ghost")


def test_list_and_roles(accounts):
    accounts.add("suzuki", "supervisor", PASSWORD)
    accounts.add("aoki", "counsellor", PASSWORD)
    accounts.issue_token("aoki")
    listed = accounts.list()
    assert [(a.name, a.role, a.has_token) for a in listed] == [
        ("aoki", "counsellor", True), ("suzuki", "supervisor", False)]
    assert listed[1].is_supervisor and not listed[0].is_supervisor
    accounts.set_role("aoki", "supervisor")
    assert accounts.get("aoki").is_supervisor


def test_every_key_comes_from_the_key_builder(accounts, redis_client, keys):
    accounts.add("aoki.k", "counsellor", PASSWORD)
    accounts.issue_token("aoki.k")
    prefix = keys.console("x")[: -len("x")]
    assert all(key.decode().startswith(prefix) for key in all_keys(redis_client, "*"))
