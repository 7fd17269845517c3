"""What every part of the queue stands on (bot.handoff.store): handoffs read
back in order, every key under the queue's hash tag and none naming a user, a
client that decodes refused, and a version every change bumps."""

from __future__ import annotations

import pytest

from bot.handoff import HandoffQueue
from tests.handoff.kit import PNG, line_id, open_
from tests.redis_server import all_keys


# --- reading ----------------------------------------------------------------------


def test_claimed_list_is_in_claim_order(queue, clock) -> None:
    hs = [open_(queue, n, severity) for n, severity in enumerate([None, "critical", "medium"])]
    for h in hs:
        clock.advance(1)
        queue.claim(h.id, "alice")
    clock.advance(1)
    queue.touch(hs[0].id, "alice")  # activity does not reorder the list
    assert [h.id for h in queue.list("claimed")] == [h.id for h in hs]


# --- keys and the client ----------------------------------------------------------


def test_the_queue_is_in_one_slot_each_chat_s_evidence_in_its_own_and_no_key_names_a_user(
        queue, client, keys) -> None:
    a = open_(queue, 1)
    queue.add_image(a.id, PNG, "image/png")
    queue.claim(a.id, "alice")
    b = open_(queue, 2)
    queue.claim(b.id, "bob")
    queue.close(b.id, "bob", {})
    names = sorted(k.decode() for k in all_keys(client))
    evidence = {f"{keys.prefix}:{{hx:{a.id}}}:log", f"{keys.prefix}:{{hx:{a.id}}}:img:1",
                f"{keys.prefix}:{{hx:{b.id}}}:log"}
    assert evidence <= set(names)
    assert all(n.startswith(f"{keys.prefix}:{{handoff}}:") for n in set(names) - evidence)
    assert not any(line_id(1) in n or keys.pseudonym(line_id(1)) in n for n in names)
    # The images, the bulk of what the queue keeps, are not in the queue's slot.
    assert not any(":img:" in n for n in names if n.startswith(f"{keys.prefix}:{{handoff}}:"))


def test_a_decoding_client_is_refused(keys) -> None:
    import fakeredis

    with pytest.raises(ValueError):
        HandoffQueue(fakeredis.FakeRedis(decode_responses=True), keys)


# --- version ----------------------------------------------------------------------


def test_every_change_bumps_the_version(queue) -> None:
    def bumps(action) -> bool:
        before = queue.version()
        action()
        return queue.version() > before

    assert queue.version() == 0
    a = open_(queue, 1)
    assert queue.version() == 1
    assert not bumps(lambda: open_(queue, 1))  # nothing new to merge
    assert bumps(lambda: open_(queue, 1, "medium"))
    assert bumps(lambda: queue.raise_priority(a.id, "high", []))
    assert bumps(lambda: queue.clear_alert(a.id))
    assert bumps(lambda: queue.set_notified_position(a.id, 1))
    assert not bumps(lambda: queue.clear_alert(a.id))
    assert bumps(lambda: queue.claim(a.id, "alice"))
    assert not bumps(lambda: queue.claim(a.id, "bob"))
    assert bumps(lambda: queue.touch(a.id, "alice", reply=True))
    reply = {"from": "counsellor", "by": "alice", "kind": "text", "text": "hi"}
    assert bumps(lambda: queue.append(a.id, reply))
    assert bumps(lambda: queue.add_image(a.id, PNG, "image/png"))
    assert bumps(lambda: queue.escalate(a.id, "alice"))
    assert bumps(lambda: queue.transfer(a.id, "alice", "bob"))
    assert bumps(lambda: queue.requeue(a.id, "bob"))
    assert bumps(lambda: queue.claim(a.id, "bob"))
    assert bumps(lambda: queue.close(a.id, "bob", {}))
    assert not bumps(lambda: queue.close(a.id, "bob", {}))
    assert not bumps(lambda: (queue.get(a.id), queue.list("closed"), queue.transcript(a.id)))
