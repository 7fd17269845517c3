"""The transcript and the images a handoff keeps (bot.handoff.evidence); the
retention purge is tested with the records (tests/records/test_purge.py)."""

from __future__ import annotations

import pytest
import redis

from bot.handoff import MAX_IMAGE_BYTES, HandoffQueue
from tests.handoff.kit import PNG, open_


# --- transcript and images --------------------------------------------------------


def test_transcript_roundtrip(queue, clock, client, keys) -> None:
    a = open_(queue, 1)
    entries = [
        {"at": clock.now - 5, "from": "user", "by": None, "kind": "text", "text": "しにたい"},
        {"from": "bot", "by": None, "kind": "card", "text": "", "card": "hotline"},
        {"from": "note", "by": "alice", "kind": "text", "text": "保護者に連絡の同意なし"},
    ]
    for entry in entries:
        queue.append(a.id, entry)
    got = queue.transcript(a.id)
    assert got[0] == entries[0]
    assert got[1] == {**entries[1], "at": clock.now}
    assert got[2]["text"] == "保護者に連絡の同意なし"
    assert "at" not in entries[1]  # the caller's dict is not changed
    with pytest.raises(KeyError):
        queue.append("0123456789abcdef", {"from": "user", "kind": "text", "text": "x"})
    assert not client.exists(keys.handoff_transcript("0123456789abcdef")), "no transcript without its handoff"


def test_the_last_entries_of_a_transcript(queue):
    handoff = queue.open("U" + "7" * 32, role=None, level=None, lang="ja", category=None,
                         urgent=False, severity=None, reasons=[])
    for n in range(5):
        queue.append(handoff.id, {"from": "user", "kind": "text", "text": str(n)})
    assert [e["text"] for e in queue.transcript(handoff.id, last=2)] == ["3", "4"]
    assert [e["text"] for e in queue.transcript(handoff.id)] == ["0", "1", "2", "3", "4"]


def test_images_roundtrip(queue) -> None:
    a = open_(queue, 1, "high")
    assert queue.add_image(a.id, PNG, "image/png") == 1
    assert queue.add_image(a.id, b"\xff\xd8\xff", "Image/JPEG; charset=binary") == 2
    assert queue.image(a.id, 1) == (PNG, "image/png")
    assert queue.image(a.id, 2) == (b"\xff\xd8\xff", "image/jpeg")
    assert queue.image(a.id, 3) is None
    images = [e for e in queue.transcript(a.id) if e["kind"] == "image"]
    assert [(e["from"], e["image"]) for e in images] == [("user", 1), ("user", 2)]


def test_images_over_ten_megabytes_or_not_images_are_refused(queue) -> None:
    a = open_(queue, 1)
    assert queue.add_image(a.id, b"\0" * MAX_IMAGE_BYTES, "image/png") == 1
    with pytest.raises(ValueError):
        queue.add_image(a.id, b"\0" * (MAX_IMAGE_BYTES + 1), "image/png")
    for content_type in ("text/html", "application/octet-stream", "image/", "", "video/mp4"):
        with pytest.raises(ValueError):
            queue.add_image(a.id, PNG, content_type)
    with pytest.raises(KeyError):
        queue.add_image("0123456789abcdef", PNG, "image/png")
    assert queue.image(a.id, 2) is None


# --- the move to per-chat slots ---------------------------------------------------


def test_evidence_kept_before_it_had_per_chat_slots_is_moved_once_in_order(queue, client, keys, clock) -> None:
    if isinstance(client, redis.RedisCluster):
        pytest.skip("the old layout was never on a cluster: it put every chat in the queue's slot")
    a, b = open_(queue, 1), open_(queue, 2)
    queue.append(a.id, {"from": "user", "kind": "text", "text": "前のこと"})
    queue.add_image(a.id, PNG, "image/png")
    queue.claim(b.id, "alice")
    queue.close(b.id, "alice", {})
    # As a server upgraded from the old layout holds them.
    for hid in (a.id, b.id):
        client.rename(keys.handoff_transcript(hid), keys.handoff_transcript_before_move(hid))
    client.rename(keys.handoff_image(a.id, 1), keys.handoff_image_before_move(a.id, 1))
    # A process of this version wrote to chat a before the move ran.
    queue.append(a.id, {"from": "user", "kind": "text", "text": "あとのこと"})

    mover = HandoffQueue(client, keys, clock, sealer=queue.sealer)
    assert mover.move_evidence() == 2
    texts = [e.get("text") for e in queue.transcript(a.id)]
    assert texts[0] == "前のこと" and texts[-1] == "あとのこと" and len(texts) == 3
    assert queue.image(a.id, 1) == (PNG, "image/png")
    assert [e.get("event") for e in queue.transcript(b.id)] == ["claimed", "closed"]
    assert not client.keys(f"{keys.prefix}:{{handoff}}:h:*:log") and not client.keys("*:img:*:before*")
    assert not any(":img:" in k.decode() for k in client.keys(f"{keys.prefix}:{{handoff}}:*"))
    # Once: the flag says so, and nothing is read again.
    assert HandoffQueue(client, keys, clock, sealer=queue.sealer).move_evidence() == 0
    assert len(queue.transcript(a.id)) == 3


def test_a_purge_before_the_move_removes_the_evidence_where_it_was_and_nothing_comes_back(
        queue, client, keys, clock) -> None:
    if isinstance(client, redis.RedisCluster):
        pytest.skip("the old layout was never on a cluster")
    a = open_(queue, 1)
    queue.append(a.id, {"from": "user", "kind": "text", "text": "ひみつ"})
    queue.add_image(a.id, PNG, "image/png")
    queue.claim(a.id, "alice")
    queue.close(a.id, "alice", {})
    client.rename(keys.handoff_transcript(a.id), keys.handoff_transcript_before_move(a.id))
    client.rename(keys.handoff_image(a.id, 1), keys.handoff_image_before_move(a.id, 1))
    # The clock's purge runs before any process of this version moved the evidence.
    counts = queue.purge_before(clock.now + 1)
    assert counts["handoffs"] == 1 and counts["transcripts"] == 1 and counts["images"] == 1
    mover = HandoffQueue(client, keys, clock, sealer=queue.sealer)
    mover.move_evidence()
    assert queue.transcript(a.id) == [] and queue.image(a.id, 1) is None
    assert not client.exists(keys.handoff_transcript_before_move(a.id), keys.handoff_image_before_move(a.id, 1))


def test_what_a_process_of_the_old_version_writes_after_the_move_is_shown(queue, client, keys, clock) -> None:
    if isinstance(client, redis.RedisCluster):
        pytest.skip("the old layout was never on a cluster")
    a = open_(queue, 1)
    assert queue.move_evidence() == 0  # the flag is set: the move is done
    queue.append(a.id, {"from": "user", "kind": "text", "text": "新しい"})
    # A process of the version before, still running in a rolling deploy, writes the
    # old way: its entry and image where they used to be.
    sealed_entry = queue.sealer.seal_text('{"from":"user","kind":"text","text":"古い","at":1}',
                                          f"handoff:{a.id}:log")
    client.rpush(keys.handoff_transcript_before_move(a.id), sealed_entry)
    client.hset(keys.handoff_doc(a.id), "images", 1)
    client.hset(keys.handoff_image_before_move(a.id, 1),
                mapping={"content_type": "image/png", "data": queue.sealer.seal(PNG, f"handoff:{a.id}:img:1")})
    assert sorted(e["text"] for e in queue.transcript(a.id)) == ["古い", "新しい"]
    assert queue.image(a.id, 1) == (PNG, "image/png")
    assert not client.exists(keys.handoff_transcript_before_move(a.id))
