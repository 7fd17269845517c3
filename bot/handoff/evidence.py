"""What a handoff keeps besides its fields: the transcript and the images the
user sent, sealed and bound to their handoff, and their removal once the
retention period is over (``purge_before``, run by ``python -m bot purge``).

Closed and returned handoffs are kept without a TTL: the transcript, the
evidence images and the closing record (記録簿) are the consultation record a
supervisor reviews and a follow-up builds on, so they must not vanish on a
timer chosen here, only in the purge, after the profile's ``retention_days``.
"""

from __future__ import annotations

import json
import re

import redis

from bot.handoff.store import QueueStore
from bot.handoff.stored import as_text, encode, ms, seal_context, to_json
from bot.privacy import mask_pii_deep

# LINE delivers images of up to 10 MB; anything larger is not a LINE image.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_IMAGE_TYPE_RE = re.compile(r"image/[a-z0-9][a-z0-9.+-]*")


class Evidence(QueueStore):
    """The transcript, images and their purge, for a HandoffQueue (bot.handoff.queue)."""

    _evidence_moved = False

    # --- transcript and images ----------------------------------------------------

    def append(self, hid: str, entry: dict) -> None:
        """Add a transcript entry ("at" is stamped when missing). KeyError if the
        handoff does not exist: a transcript without its handoff could never be read."""
        if not isinstance(entry, dict):
            raise TypeError("transcript entry must be a dict")
        entry = dict(entry)
        entry.setdefault("at", self._clock())
        self._append_entry(hid, entry)

    def transcript(self, hid: str, *, last: int | None = None) -> list[dict]:
        """The whole transcript, or only its ``last`` entries."""
        start = -last if last else 0
        context = seal_context(hid, "log")
        log = self._keys.handoff_transcript(hid)
        if self._single_server:
            # A process of the version before the per-chat slots (a rolling deploy) may
            # still write where transcripts were: its entries are moved when read.
            pipe = self._client.pipeline(transaction=False)
            pipe.lrange(log, start, -1)
            pipe.exists(self._keys.handoff_transcript_before_move(hid))
            items, before_move = pipe.execute()
            if before_move:
                self._move_chat(hid)
                items = self._client.lrange(log, start, -1)
        else:
            items = self._client.lrange(log, start, -1)
        return [json.loads(self._sealer.open_text(as_text(item), context)) for item in items]

    def add_image(self, hid: str, data: bytes, content_type: str) -> int:
        """Keep an image the user sent with the handoff; returns its number n and adds
        {"from": "user", "kind": "image", "image": n} to the transcript."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("image data must be bytes")
        data = bytes(data)
        if not data:
            raise ValueError("empty image")
        if len(data) > MAX_IMAGE_BYTES:
            raise ValueError(f"image of {len(data)} bytes is over the {MAX_IMAGE_BYTES} byte limit")
        content_type = (content_type or "").split(";")[0].strip().lower()
        if not _IMAGE_TYPE_RE.fullmatch(content_type):
            raise ValueError(f"not an image content type: {content_type!r}")
        number = int(self._next_image(keys=[self._keys.handoff_doc(hid)]))
        if number == 0:
            raise KeyError(f"no handoff {hid!r}")
        # Image first, then its transcript entry: the entry never points at nothing.
        # (A crash in between leaves an unused number, which is harmless.)
        self._client.hset(self._keys.handoff_image(hid, number),
                          mapping={"content_type": content_type,
                                   "data": self._sealer.seal(data, seal_context(hid, f"img:{number}"))})
        self._append_entry(hid, {"at": self._clock(), "from": "user", "by": None,
                                 "kind": "image", "image": number, "text": ""})
        return number

    def image(self, hid: str, n: int) -> tuple[bytes, str] | None:
        data, content_type = self._client.hmget(self._keys.handoff_image(hid, n), "data", "content_type")
        if data is None and self._single_server and self._move_chat(hid):
            data, content_type = self._client.hmget(self._keys.handoff_image(hid, n), "data", "content_type")
        if data is None or content_type is None:
            return None
        return self._sealer.open(bytes(data), seal_context(hid, f"img:{n}")), as_text(content_type)

    # --- retention ----------------------------------------------------------------

    def purge_before(self, cutoff: float) -> dict[str, int]:
        """Remove what a finished handoff keeps beyond its record, for handoffs
        closed (or returned to the bot) before ``cutoff`` (epoch seconds): the
        transcript, the evidence images, the teacher's identity and the raw LINE id. The handoff's
        codes, times and closing record stay (the consultation record and the audit
        log refer to them; its free text is masked, which a record closed before
        masking-on-write gets here). Idempotent: a purged handoff is marked and skipped.
        Returns counts: handoffs, transcripts, images, identities."""
        counts = {"handoffs": 0, "transcripts": 0, "images": 0, "identities": 0}
        closed = self._keys.handoff_closed()
        for raw_id in self._client.zrangebyscore(closed, "-inf", f"({ms(cutoff)}"):
            hid = as_text(raw_id)
            doc = self._keys.handoff_doc(hid)
            purged, images, identity, record = self._client.hmget(doc, "purged", "images", "identity", "record")
            if purged is not None or not self._client.exists(doc):
                continue
            image_count = int(images or 0)
            # The evidence first (its slot is the chat's, so not in the handoff's
            # MULTI), the mark after: a purge cut short is done again in full next run.
            pipe = self._client.pipeline(transaction=False)
            pipe.delete(self._keys.handoff_transcript(hid))
            for n in range(1, image_count + 1):
                pipe.delete(self._keys.handoff_image(hid, n))
            # And where they were kept before the per-chat slots, should they not have
            # been moved yet (a purge before the first start of this version).
            pipe.delete(self._keys.handoff_transcript_before_move(hid))
            for n in range(1, image_count + 1):
                pipe.delete(self._keys.handoff_image_before_move(hid, n))
            results = pipe.execute()
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(doc, "identity")
            # Nothing is ever pushed to a finished chat again: the raw LINE id goes
            # too (the pseudonym stays, so the record and the audit log still match).
            mapping = {"purged": encode(self._clock()), "line_user": ""}
            if record is not None:
                mapping["record"] = to_json(mask_pii_deep(json.loads(as_text(record) or "{}")))
            pipe.hset(doc, mapping=mapping)
            pipe.execute()
            counts["handoffs"] += 1
            now, before = results[:1 + image_count], results[1 + image_count:]
            counts["transcripts"] += min(1, int(now[0]) + int(before[0]))
            counts["images"] += sum(min(1, int(a) + int(b)) for a, b in zip(now[1:], before[1:]))
            counts["identities"] += 1 if identity is not None else 0
        return counts

    # --- the move to per-chat slots -----------------------------------------------

    def move_evidence(self) -> int:
        """Move every chat's transcript and images kept where they were before the
        evidence had per-chat slots (in the queue's slot) to their per-chat keys,
        once: a Redis that held the queue before this version still shows every
        transcript. Entries pushed since (by a process of this version) stay after
        the moved ones. Only a single server can hold the old layout (the queue never
        ran on a cluster with it). Returns how many chats had something moved."""
        if self._evidence_moved:
            return 0
        flag = self._keys.handoff_evidence_moved()
        if self._client.exists(flag):
            self._evidence_moved = True
            return 0
        moved = 0
        ids = dict.fromkeys(as_text(i) for key in (self._keys.handoff_waiting(), self._keys.handoff_claimed(),
                                                   self._keys.handoff_closed())
                            for i in self._client.zrange(key, 0, -1))
        for hid in ids:
            moved += int(self._move_chat(hid))
        self._client.set(flag, b"1")
        self._evidence_moved = True
        return moved

    @property
    def _single_server(self) -> bool:
        return not isinstance(self._client, redis.RedisCluster)

    def _move_chat(self, hid: str) -> bool:
        """One chat's evidence from where it was before the per-chat slots; a purged
        chat's is deleted instead (the purge ran before the move). True if any was there."""
        images, purged = self._client.hmget(self._keys.handoff_doc(hid), "images", "purged")
        before = [self._keys.handoff_transcript_before_move(hid)]
        now = [self._keys.handoff_transcript(hid)]
        for n in range(1, int(images or 0) + 1):
            before.append(self._keys.handoff_image_before_move(hid, n))
            now.append(self._keys.handoff_image(hid, n))
        if purged is not None:
            return bool(self._client.delete(*before))
        return bool(int(self._move_evidence(keys=[k for pair in zip(before, now) for k in pair])))
