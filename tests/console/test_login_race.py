"""Issue 13, finding 8: the lock-out counts an attempt before its password is checked.

Checked first and counted after the password, 40 parallel guesses made 8 password
checks instead of 5. Each verification here takes a while (as argon2 does at full
strength), so every guess is in flight at once: still at most 5 checks."""

from __future__ import annotations

import threading
import time

from argon2 import PasswordHasher

from bot.console.accounts import Accounts
from bot.console.auth import ACCOUNTS_EXTENSION
from bot.web import runtime_of
from tests.console.conftest import CHEAP_HASHER, PASSWORD, csrf_from

WRONG = "wrong-Password-77"
GUESSES = 40


class SlowCountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, hash, password):  # type: ignore[override]
        with self._lock:
            self.verified += 1
        time.sleep(0.2)  # the window in which the other guesses arrive
        return super().verify(hash, password)


def parallel_guesses(app, name: str, password: str) -> list[int]:
    clients = []
    for i in range(GUESSES):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i}"  # many addresses: only the name's limit binds
        clients.append((client, csrf_from(client.get("/console/login").get_data(as_text=True))))
    start = threading.Barrier(GUESSES)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(client, token) -> None:
        start.wait()
        status = client.post("/console/login", data={"name": name, "password": password,
                                                      "csrf_token": token}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_parallel_guesses_get_at_most_five_password_checks(make_console_app):
    app = make_console_app()
    runtime = runtime_of(app)
    hasher = SlowCountingHasher()
    app.extensions[ACCOUNTS_EXTENSION] = accounts = Accounts(runtime.client, runtime.keys, hasher=hasher)
    Accounts(runtime.client, runtime.keys, hasher=CHEAP_HASHER).add("aoki", "counsellor", PASSWORD)
    statuses = parallel_guesses(app, "aoki", WRONG)
    assert len(statuses) == GUESSES
    assert hasher.verified <= 5, f"{hasher.verified} passwords were checked"
    assert sorted(statuses) == [401] * 5 + [429] * (GUESSES - 5)
    assert accounts.verify("aoki", PASSWORD) is not None  # (the account itself is fine)


def test_parallel_guesses_on_an_unknown_name_are_limited_the_same_way(make_console_app):
    app = make_console_app()
    statuses = parallel_guesses(app, "nobody", WRONG)
    assert sorted(statuses) == [401] * 5 + [429] * (GUESSES - 5)
