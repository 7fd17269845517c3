"""Redis memory per idle session, per user at rest, per message in flight and per handoff.

20,000 users each send a first message through the bot's real event handler
(bot.line.handler.LineHandler: the dialogue, the session storage, the LINE
language cache, the consultation record, the handoff bridge) on a real
redis-server. Only LINE is replaced, by an object that accepts every answer at
once (``InstantLine``): memory does not depend on LINE. The keys those users
left are then copied (DUMP/RESTORE, so each copy has the same encoding, size and
TTL) under the pseudonyms of further users until 100,000 users are stored, with
their records in the month and open-consultation indexes, because running
100,000 conversations through the handler takes minutes and stores nothing
different. ``used_memory`` is read before and after each phase; what one more
user, message or handoff costs is the difference divided by the count.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from benchmarks.load import user_id

#: What a user's first message is, by user number mod 4: the follow that opens
#: the chat, a typed worry, a typed worry in English, a photo question.
FIRST_MESSAGES: tuple[dict[str, Any], ...] = (
    {"type": "follow", "follow": {"isUnblocked": False}},
    {"type": "message", "message": {"type": "text", "text": "グループで悪口を言われてる"}},
    {"type": "message", "message": {"type": "text", "text": "someone posted my photo without asking"}},
    {"type": "message", "message": {"type": "text", "text": "知らない請求がきた"}},
)
CRISIS = {"type": "message", "message": {"type": "text", "text": "もう死にたい"}}


class InstantLine:
    """LINE answering every call at once, with the language every profile says."""

    def profile_language(self, user_id: str) -> str | None:
        return "ja"

    def deliver(self, user_id: str, messages, **kwargs):
        from bot.line.sender import Delivery

        return Delivery("delivered", "reply", 1, 200, (), 1, 1)

    def fetch_content(self, message_id: str):
        return None

    def close(self) -> None:
        pass


def _event(n: int, seq: int, body: dict[str, Any]) -> dict[str, Any]:
    event = {**body, "mode": "active", "timestamp": int(time.time() * 1000),
             "source": {"type": "user", "userId": user_id(n)},
             "webhookEventId": f"01MEM{seq:02d}{n:018d}", "deliveryContext": {"isRedelivery": False},
             "replyToken": f"mem-{seq}-{n}"}
    if body["type"] == "message":
        event["message"] = {**body["message"], "id": f"{seq}{n}", "quoteToken": "q"}
    return event


def _runtime(redis_url: str, workdir: str):
    from bot.config import load_config
    from bot.runtime import build_runtime
    from benchmarks.stack import bot_env

    env = bot_env(redis_url, "http://127.0.0.1:9", Path(workdir))
    runtime = build_runtime(load_config(env))
    runtime.sender = InstantLine()  # type: ignore[assignment]
    return runtime


def _feed(args: tuple[str, str, list[int], int, bool]) -> int:
    """Run one event per user through the real handler (in a child process)."""
    from bot.pipeline import Entry

    redis_url, workdir, users, seq, crisis = args
    runtime = _runtime(redis_url, workdir)
    handler = runtime.handler()
    for n in users:
        body = CRISIS if crisis else FIRST_MESSAGES[n % len(FIRST_MESSAGES)]
        event = _event(n, seq, body)
        handler(Entry(event, event["webhookEventId"], "0-0", 0, 1, int(time.time() * 1000)))
    return len(users)


def _parallel(redis_url: str, workdir: Path, users: list[int], seq: int, crisis: bool = False,
              processes: int = 2) -> None:
    chunks = [users[k::processes] for k in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        done = sum(pool.map(_feed, [(redis_url, str(workdir), c, seq, crisis) for c in chunks]))
    assert done == len(users)


def _used(client: redis.Redis, settle: float = 30.0) -> int:
    """used_memory once it holds still.

    A fresh connection: the buffers of the big pipelines just sent are part of
    used_memory until their connection closes. And a key table that just grew is
    rehashed step by step, the old table freed only at the end (2 MB at 262,144
    buckets): read too early, it is counted as data, and a later phase that
    finishes the rehash looks as if it freed memory.
    """
    client.connection_pool.disconnect()
    deadline = time.monotonic() + settle
    # DEBUG HTSTATS lists a second table while a rehash is going on (the benchmark's
    # redis-server allows DEBUG from loopback).
    while b"rehashing target" in client.execute_command("DEBUG", "HTSTATS", "0") and time.monotonic() < deadline:
        time.sleep(0.2)
    return int(client.info("memory")["used_memory"])


def _kind(key: bytes) -> str:
    """The key's kind: its name with the pseudonym, ids and numbers taken out."""
    text = key.decode(errors="replace")
    if "}" in text:
        text = text.split("}", 1)[1].lstrip(":") or "(user)"
    parts = [p if not any(ch.isdigit() for ch in p) or len(p) < 6 else "<id>" for p in text.split(":")]
    return ":".join(parts)


def sample_kinds(client: redis.Redis, limit: int = 20000) -> dict[str, dict[str, float]]:
    """Count and average MEMORY USAGE of each kind of key (a sample of ``limit`` keys)."""
    counts: Counter[str] = Counter()
    sizes: dict[str, list[int]] = defaultdict(list)
    for key in client.scan_iter(count=1000):
        kind = _kind(key)
        counts[kind] += 1
        if len(sizes[kind]) < 200:
            sizes[kind].append(int(client.memory_usage(key, samples=0) or 0))
        if sum(counts.values()) >= limit:
            break
    return {k: {"keys": counts[k], "bytes": sum(v) / len(v)} for k, v in sizes.items()}


@dataclass
class MemoryFigures:
    users: int
    handoffs: int
    baseline_bytes: int
    per_user_at_rest: float
    per_user_from_handler: float
    sample: int
    per_idle_session: float
    per_message_in_flight: float
    per_dedupe_marker: float
    per_handoff: float
    seconds: float
    kinds_at_rest: dict[str, dict[str, float]] = field(default_factory=dict)
    kinds_with_handoffs: dict[str, dict[str, float]] = field(default_factory=dict)


def _copy_users(client: redis.Redis, keys, sample: int, users: int) -> None:
    """Give users ``sample``..``users``-1 copies of the keys users 0..``sample``-1 left."""
    import secrets

    from bot.records.book import Record

    month_keys: dict[str, str] = {}
    for start in range(sample, users, 1000):
        batch = range(start, min(users, start + 1000))
        read = client.pipeline(transaction=False)
        for n in batch:
            source = user_id(n % sample)
            for key in (keys.session(source), keys.profile_language(source)):
                read.dump(key)
                read.pttl(key)
            read.hget(keys.records_open(), keys.pseudonym(source))
        got = read.execute()
        docs = client.pipeline(transaction=False)
        for rid in got[4::5]:
            # A user without a consultation going on still takes a slot: an empty answer.
            docs.hgetall(keys.record_doc(rid.decode()) if rid else keys.record_doc("none"))
        records = docs.execute()
        write = client.pipeline(transaction=False)
        for k, n in enumerate(batch):
            target = user_id(n)
            for j, key in enumerate((keys.session(target), keys.profile_language(target))):
                dumped, ttl = got[5 * k + 2 * j], got[5 * k + 2 * j + 1]
                if dumped is not None:
                    write.restore(key, max(ttl, 0), dumped, replace=True)
            fields = records[k]
            if fields:
                record = Record.from_fields(fields)
                new_id = secrets.token_hex(8)
                write.hset(keys.record_doc(new_id), mapping={**fields, b"id": f'"{new_id}"'.encode()})
                month = month_keys.setdefault(record.month, keys.records_month(record.month))
                write.zadd(month, {new_id: record.started_at})
                write.hset(keys.records_open(), keys.pseudonym(target), new_id)
        write.execute()


def measure(redis_url: str, workdir: Path, users: int = 100_000, handoffs: int = 1_000,
            processes: int = 2, sample: int = 20_000) -> MemoryFigures:
    """The figures, on an empty redis-server at ``redis_url`` (it is flushed)."""
    from bot.pipeline import enqueue
    from bot.storage.keys import KeyBuilder

    started = time.monotonic()
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    runtime = _runtime(redis_url, str(workdir))  # sets the partition count, loads the scripts
    base = _used(client)

    keys: KeyBuilder = runtime.keys
    sample = min(sample, users)
    _parallel(redis_url, workdir, list(range(sample)), 1, processes=processes)
    from_handler = (_used(client) - base) / sample
    _copy_users(client, keys, sample, users)
    at_rest = _used(client)
    kinds_at_rest = sample_kinds(client)

    # A message in flight: stored by the webhook, not yet answered (stream entry
    # + de-duplication marker); once answered the entry goes and the marker stays 48 h.
    batch = [_event(n, 2, FIRST_MESSAGES[1]) for n in range(users)]
    for k in range(0, users, 500):
        enqueue(client, keys, batch[k:k + 500], partitions=runtime.partitions)
    in_flight = _used(client)
    for p in range(runtime.partitions):
        client.xtrim(keys.partition_events(p), maxlen=0)
    markers_only = _used(client)

    # Handoffs: one user in a hundred writes that they want to die; each gets the
    # 24-hour number and a place in the counsellors' queue, with its transcript.
    _parallel(redis_url, workdir, list(range(handoffs)), 3, crisis=True, processes=processes)
    with_handoffs = _used(client)
    waiting = client.zcard(keys.handoff_waiting())
    if waiting != handoffs:
        raise AssertionError(f"{waiting} handoffs waiting, expected {handoffs}")
    kinds_with_handoffs = sample_kinds(client, limit=10**9)
    kinds_with_handoffs = {k: v for k, v in kinds_with_handoffs.items() if k.startswith("h:")}

    # What the dialogue itself keeps per user: everything else deleted.
    doomed = [key for key in client.scan_iter(count=1000) if _kind(key) not in ("session", "lang")]
    for k in range(0, len(doomed), 1000):
        client.delete(*doomed[k:k + 1000])
    client.memory_purge()
    sessions_only = _used(client)
    client.close()
    return MemoryFigures(
        users=users, handoffs=handoffs, baseline_bytes=base,
        per_user_at_rest=(at_rest - base) / users,
        per_user_from_handler=from_handler, sample=sample,
        per_idle_session=(sessions_only - base) / users,
        per_message_in_flight=(in_flight - at_rest) / users,
        per_dedupe_marker=(markers_only - at_rest) / users,
        per_handoff=(with_handoffs - markers_only) / handoffs,
        seconds=time.monotonic() - started,
        kinds_at_rest=kinds_at_rest, kinds_with_handoffs=kinds_with_handoffs,
    )


if __name__ == "__main__":  # a quick look: python -m benchmarks.memory [users]
    import sys
    import tempfile

    from benchmarks.stack import redis_server

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp), aof=False) as url:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
        print(measure(url, Path(tmp), users=n, handoffs=max(1, n // 100), sample=max(1, n // 5)))
