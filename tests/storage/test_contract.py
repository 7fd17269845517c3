"""The session storage contract: every backend must pass the same tests.

TestSessionStorageContract runs once per backend (memory; redis against a real
redis-server from tests/redis_server.py). Backend-specific behaviour that has no
counterpart in the other backend is tested below the contract class.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from typing import Any

import pytest
import redis

from bot.storage import (
    KeyBuilder,
    LockLost,
    LockTimeout,
    MemoryStorage,
    RedisStorage,
    SessionStorage,
    StorageError,
    make_redis_client,
)
from tests.roundtrips import names, pipelines_sent

USER_A = "U4af4980629000000000000000000000a"
USER_B = "U4af4980629000000000000000000000b"
SECRET = b"test-secret-0123456789abcdef"
# Short poll so lock hand-overs between threads do not dominate the test run time.
LOCK_POLL = 0.005


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemoryHarness:
    """Builds MemoryStorage on a fake clock, so expiry is checked without waiting."""

    def __init__(self) -> None:
        self.clock = FakeClock()

    def make(self, default_ttl: int | None = None) -> MemoryStorage:
        return MemoryStorage(default_ttl, clock=self.clock)

    def assert_expires_after(self, storage: SessionStorage, user_id: str, ttl: int) -> None:
        self.clock.advance(ttl - 0.5)
        assert storage.load(user_id) is not None, "expired before its TTL"
        self.clock.advance(0.5)
        assert storage.load(user_id) is None, "still there after its TTL"

    def assert_never_expires(self, storage: SessionStorage, user_id: str) -> None:
        self.clock.advance(10 * 365 * 24 * 3600)
        assert storage.load(user_id) is not None


class RedisHarness:
    """Builds RedisStorage on the test server; expiry is checked via the key's PTTL,
    since Redis enforces EX itself and waiting for it would make the test timed."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.keys = KeyBuilder(secret=SECRET)

    def make(self, default_ttl: int | None = None) -> RedisStorage:
        return RedisStorage(self.client, self.keys, default_ttl, lock_poll_interval=LOCK_POLL)

    def assert_expires_after(self, storage: SessionStorage, user_id: str, ttl: int) -> None:
        pttl = self.client.pttl(self.keys.session(user_id))
        assert (ttl - 1) * 1000 < pttl <= ttl * 1000

    def assert_never_expires(self, storage: SessionStorage, user_id: str) -> None:
        assert self.client.pttl(self.keys.session(user_id)) == -1  # -1: key without expiry


Harness = MemoryHarness | RedisHarness


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        return MemoryHarness()
    return RedisHarness(request.getfixturevalue("redis_client"))


@pytest.fixture
def storage(harness: Harness) -> SessionStorage:
    return harness.make()


def _hold_lock(storage: SessionStorage, user_id: str) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """Hold ``user_id``'s lock in another thread until the returned release event is set."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with storage.lock(user_id):
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(timeout=10), "holder thread never got the lock"
    return held, release, thread


class TestSessionStorageContract:
    def test_missing_session_loads_as_none(self, storage: SessionStorage) -> None:
        assert storage.load(USER_A) is None

    def test_round_trip_of_nested_json(self, storage: SessionStorage) -> None:
        data: dict[str, Any] = {
            "state": "triage.sns_trouble",
            "role": "保護者",
            "answers": [{"q": "いつから困っていますか？", "a": "先週から 😢"}, 3, None, True, 2.5],
            "counters": {"retries": 0, "nested": {"deeper": [[], {}]}},
            "empty": "",
        }
        storage.save(USER_A, data)
        loaded = storage.load(USER_A)
        assert loaded == data
        assert loaded["role"] == "保護者"

    def test_saving_again_replaces_the_session(self, storage: SessionStorage) -> None:
        storage.save(USER_A, {"state": "start", "old": 1})
        storage.save(USER_A, {"state": "menu"})
        assert storage.load(USER_A) == {"state": "menu"}

    def test_mutating_after_save_does_not_change_what_is_stored(self, storage: SessionStorage) -> None:
        data = {"history": ["start"], "meta": {"n": 1}}
        storage.save(USER_A, data)
        data["history"].append("menu")
        data["meta"]["n"] = 2
        assert storage.load(USER_A) == {"history": ["start"], "meta": {"n": 1}}

    def test_mutating_a_loaded_session_does_not_change_what_is_stored(self, storage: SessionStorage) -> None:
        storage.save(USER_A, {"history": ["start"]})
        first = storage.load(USER_A)
        first["history"].append("menu")
        assert storage.load(USER_A) == {"history": ["start"]}

    @pytest.mark.parametrize(
        "bad",
        [
            {"when": object()},
            {"tags": {"a", "b"}},
            {"raw": b"bytes"},
            {"pair": (1, 2)},  # would come back as a list
            {"by_id": {1: "x"}},  # would come back with a str key
            {"score": math.nan},  # not JSON at all
            ["not", "a", "dict"],
        ],
        ids=["object", "set", "bytes", "tuple", "int-key", "nan", "list"],
    )
    def test_non_json_data_is_rejected_and_nothing_is_stored(self, storage: SessionStorage, bad: Any) -> None:
        with pytest.raises(StorageError):
            storage.save(USER_A, bad)
        assert storage.load(USER_A) is None

    def test_delete_removes_only_that_user(self, storage: SessionStorage) -> None:
        storage.save(USER_A, {"n": 1})
        storage.save(USER_B, {"n": 2})
        storage.delete(USER_A)
        assert storage.load(USER_A) is None
        assert storage.load(USER_B) == {"n": 2}

    def test_delete_of_missing_session_is_not_an_error(self, storage: SessionStorage) -> None:
        storage.delete(USER_A)
        assert storage.load(USER_A) is None

    def test_users_are_kept_apart(self, storage: SessionStorage) -> None:
        storage.save(USER_A, {"who": "a"})
        assert storage.load(USER_B) is None

    def test_the_outbox_is_written_with_the_session_and_kept_beside_it(self, storage: SessionStorage) -> None:
        assert storage.load_outbox(USER_A) == {}
        storage.save(USER_A, {"n": 1}, outbox={"e1": {"texts": ["a"]}}, outbox_ttl=60)
        assert storage.load(USER_A) == {"n": 1}
        assert storage.load_outbox(USER_A) == {"e1": {"texts": ["a"]}}
        storage.save(USER_A, {"n": 2})  # a save without an outbox leaves it alone
        assert storage.load_outbox(USER_A) == {"e1": {"texts": ["a"]}}
        storage.save(USER_A, {"n": 3}, outbox={"e2": {"texts": ["b"]}}, outbox_ttl=60)
        assert storage.load_outbox(USER_A) == {"e2": {"texts": ["b"]}}  # replaced, not merged
        assert storage.load_outbox(USER_B) == {}
        storage.delete(USER_A)
        assert storage.load(USER_A) is None and storage.load_outbox(USER_A) == {}

    def test_the_outbox_expires_on_its_own_ttl(self, harness: Harness, storage: SessionStorage) -> None:
        storage.save(USER_A, {"n": 1}, outbox={"e1": {}}, outbox_ttl=30)
        if isinstance(harness, MemoryHarness):
            harness.clock.advance(29.5)
            assert storage.load_outbox(USER_A) == {"e1": {}}
            harness.clock.advance(0.5)
            assert storage.load_outbox(USER_A) == {}
            assert storage.load(USER_A) == {"n": 1}
        else:
            assert 29_000 < harness.client.pttl(harness.keys.outbox(USER_A)) <= 30_000

    def test_explicit_ttl_expires(self, harness: Harness, storage: SessionStorage) -> None:
        storage.save(USER_A, {"n": 1}, ttl_seconds=30)
        harness.assert_expires_after(storage, USER_A, 30)

    def test_default_ttl_applies_when_none_given(self, harness: Harness) -> None:
        storage = harness.make(default_ttl=600)
        storage.save(USER_A, {"n": 1})
        harness.assert_expires_after(storage, USER_A, 600)

    def test_explicit_ttl_overrides_default(self, harness: Harness) -> None:
        storage = harness.make(default_ttl=600)
        storage.save(USER_A, {"n": 1}, ttl_seconds=20)
        harness.assert_expires_after(storage, USER_A, 20)

    def test_without_any_ttl_the_session_does_not_expire(self, harness: Harness, storage: SessionStorage) -> None:
        storage.save(USER_A, {"n": 1})
        harness.assert_never_expires(storage, USER_A)

    def test_saving_without_ttl_clears_an_earlier_ttl(self, harness: Harness, storage: SessionStorage) -> None:
        storage.save(USER_A, {"n": 1}, ttl_seconds=30)
        storage.save(USER_A, {"n": 2})
        harness.assert_never_expires(storage, USER_A)

    @pytest.mark.parametrize("ttl", [0, -5, 1.5, True])
    def test_invalid_ttl_is_rejected(self, storage: SessionStorage, ttl: Any) -> None:
        with pytest.raises(ValueError):
            storage.save(USER_A, {"n": 1}, ttl_seconds=ttl)

    @pytest.mark.parametrize("user_id", ["", None])
    def test_invalid_user_id_is_rejected(self, storage: SessionStorage, user_id: Any) -> None:
        with pytest.raises(ValueError):
            storage.load(user_id)

    def test_lock_serialises_load_modify_save(self, storage: SessionStorage) -> None:
        storage.save(USER_A, {"count": 0})
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def increment_50_times() -> None:
            try:
                start.wait()
                for _ in range(50):
                    with storage.lock(USER_A, blocking_timeout=30):
                        data = storage.load(USER_A)
                        # Widen the load->save window so a missing lock loses updates.
                        time.sleep(0.0005)
                        data["count"] += 1
                        storage.save(USER_A, data)
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=increment_50_times) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert storage.load(USER_A) == {"count": 100}

    def test_lock_times_out_while_another_holder_has_it(self, storage: SessionStorage) -> None:
        _, release, thread = _hold_lock(storage, USER_A)
        try:
            with pytest.raises(LockTimeout):
                with storage.lock(USER_A, blocking_timeout=0):
                    pytest.fail("got a lock that another thread holds")
            with pytest.raises(LockTimeout):
                with storage.lock(USER_A, blocking_timeout=0.05):
                    pytest.fail("got a lock that another thread holds")
        finally:
            release.set()
            thread.join()
        with storage.lock(USER_A, blocking_timeout=0):
            pass

    def test_lock_is_not_reentrant(self, storage: SessionStorage) -> None:
        # A handler that locks again for the same user would deadlock; it must fail fast instead.
        with storage.lock(USER_A):
            with pytest.raises(LockTimeout):
                with storage.lock(USER_A, blocking_timeout=0):
                    pass

    def test_different_users_do_not_block_each_other(self, storage: SessionStorage) -> None:
        _, release, thread = _hold_lock(storage, USER_A)
        try:
            with storage.lock(USER_B, blocking_timeout=0):
                storage.save(USER_B, {"ok": True})
        finally:
            release.set()
            thread.join()
        assert storage.load(USER_B) == {"ok": True}

    def test_lock_is_released_when_the_handler_raises(self, storage: SessionStorage) -> None:
        with pytest.raises(RuntimeError, match="handler failed"):
            with storage.lock(USER_A):
                raise RuntimeError("handler failed")
        with storage.lock(USER_A, blocking_timeout=0):
            pass

    @pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"blocking_timeout": -1}])
    def test_invalid_lock_timeouts_are_rejected(self, storage: SessionStorage, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            with storage.lock(USER_A, **kwargs):
                pass


# --- memory backend only -------------------------------------------------------------


def test_memory_locks_are_dropped_after_use() -> None:
    storage = MemoryStorage()
    for n in range(20):
        with storage.lock(f"U{n:032x}"):
            assert storage.lock_count() == 1
    assert storage.lock_count() == 0


def test_memory_lock_entry_is_dropped_after_a_timeout_too() -> None:
    storage = MemoryStorage()
    _, release, thread = _hold_lock(storage, USER_A)
    try:
        with pytest.raises(LockTimeout):
            with storage.lock(USER_A, blocking_timeout=0):
                pass
        assert storage.lock_count() == 1  # only the holder's
    finally:
        release.set()
        thread.join()
    assert storage.lock_count() == 0


def test_memory_expired_sessions_of_other_users_are_purged_on_save() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    storage.save(USER_A, {"n": 1}, ttl_seconds=10)
    clock.advance(11)
    storage.save(USER_B, {"n": 2})
    assert USER_A not in storage._data  # nothing left behind for users who never return


# --- redis backend only ----------------------------------------------------------------


@pytest.mark.redis
def test_redis_keys_come_from_the_key_builder_and_hide_the_user_id(redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    with storage.lock(USER_A):
        storage.save(USER_A, {"n": 1})
        during = {k.decode() for k in redis_client.keys("*")}
        assert during == {keys.lock(USER_A)}  # the save waits for the release
    after = {k.decode() for k in redis_client.keys("*")}
    assert after == {keys.session(USER_A)}
    assert all(USER_A not in key for key in during | after)


@pytest.mark.redis
def test_redis_save_under_the_lock_goes_with_the_release_in_one_round_trip(redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    with pipelines_sent(redis_client) as sent, storage.lock(USER_A):
        storage.save(USER_A, {"n": 1}, outbox={"e1": {"texts": ["a"]}}, outbox_ttl=60)
        storage.save(USER_A, {"n": 2})  # the last save wins; the outbox stays
    trips = names(sent)
    assert trips == [["SET", "GET", "GET"], ["EVALSHA"]]
    assert storage.load(USER_A) == {"n": 2}
    assert storage.load_outbox(USER_A) == {"e1": {"texts": ["a"]}}
    assert redis_client.exists(keys.lock(USER_A)) == 0
    assert redis_client.ttl(keys.outbox(USER_A)) > 0


@pytest.mark.redis
def test_redis_writes_queued_for_the_release_go_in_its_round_trip_even_after_a_script_flush(
        redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    with storage.lock(USER_A):
        storage.save(USER_A, {"n": 1})
        storage.on_release(USER_A, lambda pipe: pipe.hset("elsewhere", mapping={"a": "1"}))
        assert not redis_client.exists("elsewhere"), "sent with the release, not before"
        redis_client.script_flush()  # Redis restarted meanwhile: the scripts are gone
    assert redis_client.hgetall("elsewhere") == {b"a": b"1"}
    assert storage.load(USER_A) == {"n": 1} and not redis_client.exists(keys.lock(USER_A))
    storage.on_release(USER_A, lambda pipe: pipe.hset("elsewhere", mapping={"b": "2"}))
    assert redis_client.hget("elsewhere", "b") == b"2", "without the lock: at once"


@pytest.mark.redis
def test_redis_lock_holds_across_clients(redis_server_url: str, redis_client: redis.Redis) -> None:
    # Two clients with their own connection pools stand in for two worker processes.
    keys = KeyBuilder(secret=SECRET)
    other_client = make_redis_client(redis_server_url)
    try:
        worker_1 = RedisStorage(redis_client, keys)
        worker_2 = RedisStorage(other_client, keys)
        with worker_1.lock(USER_A):
            with pytest.raises(LockTimeout):
                with worker_2.lock(USER_A, blocking_timeout=0):
                    pass
        with worker_2.lock(USER_A, blocking_timeout=0):
            pass
    finally:
        other_client.close()


@pytest.mark.redis
def test_redis_lock_reads_the_session_with_the_lock_and_keeps_it_current(redis_client: redis.Redis) -> None:
    # One round trip to take the lock and read the session: no GET of its own inside.
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    storage.save(USER_A, {"n": 1})

    def no_get(*_args, **_kwargs):
        pytest.fail("load() inside the lock sent a GET of its own")

    real_get = redis_client.get
    redis_client.get = no_get  # type: ignore[method-assign]
    try:
        with storage.lock(USER_A):
            assert storage.load(USER_A) == {"n": 1}
            assert storage.load_outbox(USER_A) == {}
            storage.save(USER_A, {"n": 2}, outbox={"e": {}}, outbox_ttl=60)
            assert storage.load(USER_A) == {"n": 2}  # what was saved, not the copy read with the lock
            assert storage.load_outbox(USER_A) == {"e": {}}
            storage.delete(USER_A)
            assert storage.load(USER_A) is None
    finally:
        redis_client.get = real_get  # type: ignore[method-assign]
    assert storage.load(USER_A) is None


@pytest.mark.redis
def test_redis_lock_of_a_worker_found_gone_is_taken_over_at_once(redis_client: redis.Redis) -> None:
    # A worker killed in the middle of a user's event leaves that user's lock for
    # its whole timeout (10 s); the worker that takes the partition over must not
    # make the user wait for it once the roster knows the holder is gone.
    keys = KeyBuilder(secret=SECRET)
    dead = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    dead.holder = "vm-1.dead"
    survivor = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    survivor.holder = "vm-2.alive"
    gone: set[str] = set()
    survivor.holder_gone = gone.__contains__
    # (The "dead" one here still runs, so it is told at the end that it lost its lock.)
    with pytest.raises(LockLost), dead.lock(USER_A):
        assert redis_client.get(keys.lock(USER_A)).startswith(b"vm-1.dead/")
        with pytest.raises(LockTimeout):
            with survivor.lock(USER_A, blocking_timeout=0.2):
                pass
        gone.add("vm-1.dead")
        started = time.monotonic()
        with survivor.lock(USER_A, blocking_timeout=5):
            assert time.monotonic() - started < 0.5
            assert redis_client.get(keys.lock(USER_A)).startswith(b"vm-2.alive/")
        # A lock of a process that is not a worker (no holder) is never taken over.
        anonymous = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
        with anonymous.lock(USER_B):
            gone.add("")
            with pytest.raises(LockTimeout):
                with survivor.lock(USER_B, blocking_timeout=0.2):
                    pass


@pytest.mark.redis
def test_redis_lock_whose_release_failed_is_taken_back_by_its_own_process(redis_client: redis.Redis,
                                                                          monkeypatch) -> None:
    # A failover in the middle of a user's event: the save and release fail, the lock
    # (copied to the promoted replica) stays for its timeout. The event is run again
    # by the same process, which must not wait 10 s for its own lock; any other
    # process still must.
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    storage.holder = "vm-1.worker"
    real = storage._save_and_release

    def fails(*args, **kwargs):
        raise redis.ConnectionError("the master went away")

    monkeypatch.setattr(storage, "_save_and_release", fails)
    with pytest.raises(StorageError):
        with storage.lock(USER_A):
            storage.save(USER_A, {"n": 1})
    monkeypatch.setattr(storage, "_save_and_release", real)
    assert redis_client.exists(keys.lock(USER_A)), "the lock outlived the failed release"
    other = RedisStorage(redis_client, keys, lock_poll_interval=LOCK_POLL)
    other.holder = "vm-1.worker"  # same name, other process: it never had that token
    with pytest.raises(LockTimeout):
        with other.lock(USER_A, blocking_timeout=0.2):
            pass
    started = time.monotonic()
    with storage.lock(USER_A, blocking_timeout=5):
        assert time.monotonic() - started < 0.5
        storage.save(USER_A, {"n": 2})
    assert storage.load(USER_A) == {"n": 2} and not redis_client.exists(keys.lock(USER_A))


@pytest.mark.redis
def test_redis_lock_has_an_expiry_so_a_crashed_worker_cannot_block_a_user(redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys)
    with storage.lock(USER_A, timeout=7):
        assert 6000 < redis_client.pttl(keys.lock(USER_A)) <= 7000


@pytest.mark.redis
def test_redis_lock_lost_while_held_is_reported(redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys)
    with pytest.raises(LockLost, match="raise the lock timeout"):
        with storage.lock(USER_A):
            # What an expired lock looks like to its holder, without waiting for expiry.
            redis_client.delete(keys.lock(USER_A))


@pytest.mark.redis
def test_redis_lock_lost_does_not_hide_the_handler_error(redis_client: redis.Redis) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys)
    with pytest.raises(RuntimeError, match="handler failed"):
        with storage.lock(USER_A):
            redis_client.delete(keys.lock(USER_A))
            raise RuntimeError("handler failed")


@pytest.mark.redis
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_redis_corrupt_session_names_the_key(redis_client: redis.Redis, raw: bytes) -> None:
    keys = KeyBuilder(secret=SECRET)
    storage = RedisStorage(redis_client, keys)
    redis_client.set(keys.session(USER_A), raw)
    with pytest.raises(StorageError, match=r"nsb:\{[0-9a-f]{32}\}:session"):
        storage.load(USER_A)


def test_redis_unreachable_server_raises_storage_error() -> None:
    # A port that was free a moment ago: nothing listens, so connect is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_redis_client(f"redis://127.0.0.1:{port}/0")
    storage = RedisStorage(client, KeyBuilder(secret=SECRET))
    try:
        with pytest.raises(StorageError, match="GET"):
            storage.load(USER_A)
        with pytest.raises(StorageError):
            with storage.lock(USER_A):
                pass
    finally:
        client.close()


def test_make_redis_client_sets_explicit_connection_policy() -> None:
    kwargs = make_redis_client("redis://127.0.0.1:6399/0").connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == 2.0
    assert kwargs["socket_timeout"] == 2.0
    assert kwargs["health_check_interval"] == 30
    assert kwargs["protocol"] == 2
    assert kwargs["retry"].get_retries() == 2


def test_make_redis_client_lets_the_url_override_a_timeout() -> None:
    kwargs = make_redis_client("redis://127.0.0.1:6399/0?socket_timeout=7").connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 7.0
