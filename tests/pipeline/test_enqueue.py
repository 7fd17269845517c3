"""enqueue(): de-duplicated, atomic, durable append of webhook events (real redis-server)."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest
import redis

from bot.pipeline import (
    DEDUPE_TTL_SECONDS,
    EnqueueResult,
    PipelineConfigError,
    PipelineUnavailable,
    enqueue,
    ensure_partition_count,
    event_id,
    partition_for,
    source_id,
)
from bot.pipeline.enqueue import adopt_partition_layout
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client
from tests.pipeline import SECRET, TEXT_PREFIX, message_event, user_id, webhook_event_id

try:
    from redis.crc import key_slot
except ImportError:  # older redis-py kept it in the cluster module
    from redis.cluster import key_slot  # type: ignore[no-redef]

P = 16
USER = user_id(1)


@pytest.fixture
def keys() -> KeyBuilder:
    return KeyBuilder(secret=SECRET)


def stream_entries(client: redis.Redis, keys: KeyBuilder, partition: int) -> list[dict[str, str]]:
    rows = client.xrange(keys.partition_events(partition))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in rows]


def all_entries(client: redis.Redis, keys: KeyBuilder) -> list[dict[str, str]]:
    return [e for p in range(P) for e in stream_entries(client, keys, p)]


# --- partitioning ------------------------------------------------------------------


def test_source_id_is_the_user_or_the_group_or_room() -> None:
    assert source_id({"source": {"type": "user", "userId": "Uaaa"}}) == "Uaaa"
    assert source_id({"source": {"type": "group", "groupId": "Cggg", "userId": "Uaaa"}}) == "Cggg"
    assert source_id({"source": {"type": "room", "roomId": "Rrrr", "userId": "Uaaa"}}) == "Rrrr"
    assert source_id({"type": "unfollow"}) is None
    assert source_id({"source": "nonsense"}) is None


def test_partition_is_crc32_of_the_source_and_events_without_source_go_to_0() -> None:
    import zlib

    for i in range(50):
        user = user_id(i)
        assert partition_for(message_event(user, 1), P) == zlib.crc32(user.encode()) % P
        assert partition_for(message_event(user, 1), P) == partition_for(message_event(user, 9), P)
    assert partition_for({"type": "unknown"}, P) == 0
    used = {partition_for(message_event(user_id(i), 1), P) for i in range(200)}
    assert used == set(range(P)), "200 users should spread over every partition"
    with pytest.raises(ValueError):
        partition_for(message_event(USER, 1), 0)


def test_event_id_is_the_webhook_event_id_or_a_hash_of_the_event() -> None:
    assert event_id(message_event(USER, 1)) == webhook_event_id(USER, 1)
    old = message_event(USER, 1, with_id=False)
    assert re.fullmatch(r"sha256-[0-9a-f]{32}", event_id(old))
    assert event_id(old) == event_id(json.loads(json.dumps(old)))
    assert event_id(old) != event_id(message_event(USER, 2, with_id=False))


# --- dedupe --------------------------------------------------------------------------


def test_same_event_twice_is_stored_once(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    event = message_event(USER, 1)
    assert enqueue(redis_client, keys, [event], partitions=P) == EnqueueResult(stored=1, duplicates=0)
    assert enqueue(redis_client, keys, [event], partitions=P) == EnqueueResult(stored=0, duplicates=1)
    assert len(all_entries(redis_client, keys)) == 1


def test_batch_with_a_redelivered_event(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    first = enqueue(redis_client, keys, [message_event(USER, 1), message_event(USER, 2)], partitions=P)
    assert first == EnqueueResult(stored=2, duplicates=0)
    # LINE redelivers event 2 (same webhookEventId, isRedelivery true) together with 3.
    again = [message_event(USER, 2, redelivery=True), message_event(USER, 3)]
    assert enqueue(redis_client, keys, again, partitions=P) == EnqueueResult(stored=1, duplicates=1)
    entries = stream_entries(redis_client, keys, partition_for(message_event(USER, 1), P))
    assert [json.loads(e["event"])["message"]["id"] for e in entries] == ["1", "2", "3"]


def test_events_without_webhook_event_id_are_deduped_by_their_content(
    redis_client: redis.Redis, keys: KeyBuilder
) -> None:
    old = [message_event(USER, 1, with_id=False), message_event(USER, 2, with_id=False)]
    assert enqueue(redis_client, keys, old, partitions=P) == EnqueueResult(stored=2, duplicates=0)
    assert enqueue(redis_client, keys, old, partitions=P) == EnqueueResult(stored=0, duplicates=2)


def test_the_entry_keeps_the_raw_event_and_the_time_it_was_received(
    redis_client: redis.Redis, keys: KeyBuilder
) -> None:
    event = message_event(USER, 7)
    enqueue(redis_client, keys, [event], partitions=P, received_ms=1_234_567)
    (entry,) = all_entries(redis_client, keys)
    assert json.loads(entry["event"]) == event  # Japanese text intact, nothing dropped
    assert entry["event_id"] == webhook_event_id(USER, 7)
    assert entry["received_ms"] == "1234567"


def test_dedupe_marker_expires_after_48_hours_and_lives_in_the_stream_slot(
    redis_client: redis.Redis, keys: KeyBuilder
) -> None:
    event = message_event(USER, 1)
    enqueue(redis_client, keys, [event], partitions=P)
    partition = partition_for(event, P)
    seen = keys.partition_seen(partition, webhook_event_id(USER, 1))
    assert DEDUPE_TTL_SECONDS == 48 * 3600
    assert DEDUPE_TTL_SECONDS - 5 <= redis_client.ttl(seen) <= DEDUPE_TTL_SECONDS
    assert key_slot(seen.encode()) == key_slot(keys.partition_events(partition).encode())
    # Event streams have no TTL on purpose: expiry would drop events not yet handled.
    assert redis_client.ttl(keys.partition_events(partition)) == -1


def test_no_key_carries_a_user_id_or_message_text(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    enqueue(redis_client, keys, [message_event(user_id(i), 1) for i in range(30)], partitions=P)
    names = [k.decode() for k in redis_client.keys("*")]
    assert names
    for name in names:
        assert "U000" not in name and TEXT_PREFIX not in name
        assert re.fullmatch(r"nsb:\{p:\d+(\.\d+)?\}:(events|seen:[A-Za-z0-9_-]+)", name), name


# --- atomicity and failure -----------------------------------------------------------


def test_failed_append_leaves_no_dedupe_marker(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    event = message_event(USER, 1)
    partition = partition_for(event, P)
    redis_client.set(keys.partition_events(partition), "not a stream")
    with pytest.raises(PipelineUnavailable, match="WRONGTYPE"):
        enqueue(redis_client, keys, [event], partitions=P)
    assert not redis_client.exists(keys.partition_seen(partition, webhook_event_id(USER, 1)))
    # Once the key is fixed, LINE's redelivery of the same event is stored (not "duplicate").
    redis_client.delete(keys.partition_events(partition))
    assert enqueue(redis_client, keys, [event], partitions=P) == EnqueueResult(stored=1, duplicates=0)


def test_a_batch_that_fails_half_way_is_completed_by_the_redelivery(
    redis_client: redis.Redis, keys: KeyBuilder
) -> None:
    good, bad = user_id(1), next(user_id(i) for i in range(2, 100)
                                 if partition_for(message_event(user_id(i), 1), P)
                                 != partition_for(message_event(user_id(1), 1), P))
    body = [message_event(good, 1), message_event(bad, 1)]
    broken = keys.partition_events(partition_for(body[1], P))
    redis_client.set(broken, "not a stream")
    with pytest.raises(PipelineUnavailable):
        enqueue(redis_client, keys, body, partitions=P)  # the webhook answers 503
    redis_client.delete(broken)
    # LINE redelivers the whole body: the event stored the first time is not stored again.
    assert enqueue(redis_client, keys, body, partitions=P) == EnqueueResult(stored=1, duplicates=1)
    assert len(all_entries(redis_client, keys)) == 2


def test_unavailable_quickly_when_redis_is_down(keys: KeyBuilder) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_redis_client(f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    with pytest.raises(PipelineUnavailable) as info:
        enqueue(client, keys, [message_event(USER, 1)], partitions=P)
    elapsed = time.monotonic() - started
    assert isinstance(info.value.__cause__, redis.ConnectionError)
    assert elapsed < 3.0, f"took {elapsed:.2f}s: the webhook must answer 503 quickly"


def test_one_round_trip_and_recovery_after_the_script_cache_was_flushed(
    redis_client: redis.Redis, keys: KeyBuilder
) -> None:
    redis_client.script_flush()
    assert enqueue(redis_client, keys, [message_event(USER, 1)], partitions=P).stored == 1
    redis_client.config_resetstat()
    events = [message_event(user_id(i), 1) for i in range(2, 12)]
    assert enqueue(redis_client, keys, events, partitions=P).stored == 10
    stats = redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 10
    assert not any("script" in name for name in stats), stats.keys()


def test_empty_body_and_non_dict_events(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    assert enqueue(redis_client, keys, [], partitions=P) == EnqueueResult(0, 0)
    with pytest.raises(TypeError):
        enqueue(redis_client, keys, ["not an event"], partitions=P)  # type: ignore[list-item]


def test_partition_count_must_agree(redis_client: redis.Redis, keys: KeyBuilder) -> None:
    ensure_partition_count(redis_client, keys, 16)
    ensure_partition_count(redis_client, keys, 16)
    with pytest.raises(PipelineConfigError, match="16"):
        ensure_partition_count(redis_client, keys, 8)


def test_a_new_pipeline_has_spread_tags_and_one_begun_before_keeps_its_plain_ones(
        redis_client: redis.Redis) -> None:
    fresh = KeyBuilder(secret=b"x" * 32)
    ensure_partition_count(redis_client, fresh, 16)
    assert redis_client.get(fresh.pipeline_partition_count()) == b"16:spread"
    assert fresh.partitions_spread
    # A Redis whose pipeline was begun by a version before the spread tags.
    redis_client.set(fresh.pipeline_partition_count(), b"16")
    older = KeyBuilder(secret=b"x" * 32)
    ensure_partition_count(redis_client, older, 16)
    assert not older.partitions_spread
    assert [older.partition_events(i) for i in range(16)] == [f"nsb:{{p:{i}}}:events" for i in range(16)]
    with pytest.raises(PipelineConfigError, match="16"):
        ensure_partition_count(redis_client, older, 8)
    # The clock and the operator's commands only send: they take the recorded layout.
    sender = KeyBuilder(secret=b"x" * 32)
    adopt_partition_layout(redis_client, sender)
    assert sender.partition_events(3) == older.partition_events(3) == "nsb:{p:3}:events"
    redis_client.delete(fresh.pipeline_partition_count())
    adopt_partition_layout(redis_client, sender)
    assert sender.partitions_spread and redis_client.get(fresh.pipeline_partition_count()) is None


def test_an_operator_s_command_builds_the_partition_keys_the_workers_read(redis_server_url, redis_client,
                                                                          monkeypatch) -> None:
    from bot.connection import connect_for_command

    for name, value in {"REDIS_URL": redis_server_url, "BOT_ID_SECRET": "cmd-secret-0123456789abcdef",
                        "BOT_CONSOLE_SECRET": "c" * 40, "LINE_CHANNEL_SECRET": "s" * 32,
                        "LINE_CHANNEL_ACCESS_TOKEN": "t" * 32,
                        "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="}.items():
        monkeypatch.setenv(name, value)
    redis_client.set(KeyBuilder(secret=b"x" * 32).pipeline_partition_count(), b"16")  # begun before the spread tags
    _config, client, keys = connect_for_command("test")
    assert keys.partition_events(3) == "nsb:{p:3}:events"
    client.close()
