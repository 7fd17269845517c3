"""THE one place where Redis keys are built.

Every key the bot writes to Redis comes from KeyBuilder, so the key layout can be
read (and audited for personal data) in this file alone. When a new kind of per-user
key is needed (dedupe of webhook events, a language cache, ...), add a named method
here that calls ``user()``; do not format key strings anywhere else.

Layout: ``<prefix>:{<pseudonym>}:<part>``

- LINE user ids are personal data, so keys carry a keyed hash (HMAC-SHA256) instead.
  Anyone reading the Redis keyspace (a dump, MONITOR, a shared managed instance)
  cannot tell which LINE user a key belongs to without the secret.
- The pseudonym sits in a Redis Cluster hash tag ``{...}`` so all keys of one user
  land in the same slot; multi-key operations on one user then also work on a cluster.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from redis.crc import REDIS_CLUSTER_HASH_SLOTS as SLOTS
from redis.crc import key_slot

# 32 hex chars = 128 bits: collisions between users are not a practical concern.
PSEUDONYM_HEX_CHARS = 32
# Short secrets make the pseudonyms guessable offline; 16 bytes is the floor.
MIN_SECRET_BYTES = 16

_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]+")
# Parts may be nested with ":" (e.g. "dedupe:<event id>"), but braces would
# create a second hash tag candidate and break the slot guarantee.
_PART_RE = re.compile(r"[A-Za-z0-9_.:-]+")
_EVENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_part(part: object) -> None:
    if not isinstance(part, str) or not _PART_RE.fullmatch(part):
        raise ValueError(f"key part {part!r} may only contain letters, digits, '_', '.', ':', '-'")


class KeyBuilder:
    """Builds every Redis key of the bot from a prefix and a pseudonymisation secret."""

    def __init__(self, *, secret: bytes, prefix: str = "nsb") -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"KeyBuilder secret must be at least {MIN_SECRET_BYTES} bytes; generate one with "
                "`python -c \"import secrets; print(secrets.token_hex(32))\"` and pass it as bytes"
            )
        if not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(
                f"KeyBuilder prefix {prefix!r} may only contain letters, digits, '_', '.', '-'"
            )
        self._secret = secret
        self._prefix = prefix
        self.use_partitions(16)

    @property
    def prefix(self) -> str:
        return self._prefix

    def pseudonym(self, user_id: str) -> str:
        """Stable, secret-keyed stand-in for ``user_id`` (hex, 32 chars)."""
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty str, got {user_id!r}")
        digest = hmac.new(self._secret, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARS]

    def user(self, user_id: str, part: str) -> str:
        """Key for one ``part`` of a user's data. Prefer adding a named method below."""
        _check_part(part)
        return f"{self._prefix}:{{{self.pseudonym(user_id)}}}:{part}"

    def session(self, user_id: str) -> str:
        """The JSON session document (bot.storage.redis.RedisStorage)."""
        return self.user(user_id, "session")

    def lock(self, user_id: str) -> str:
        """The per-user lock held around load -> handle -> save."""
        return self.user(user_id, "lock")

    def outbox(self, user_id: str) -> str:
        """The answer to the user's last event, written with the session and kept
        for a while (bot.service.OUTBOX_TTL), so an event run again is sent its
        first answer instead of moving the conversation twice."""
        return self.user(user_id, "outbox")

    def blocked(self, user_id: str) -> str:
        """Set while the user has blocked the bot: nothing is pushed to them."""
        return self.user(user_id, "blocked")

    def profile_language(self, user_id: str) -> str:
        """The LINE profile language, read once per user and cached."""
        return self.user(user_id, "lang")

    # --- Event pipeline (bot.pipeline): partition-level keys -----------------------
    # Layout: ``<prefix>:{p:<n>[.<k>]}:<part>``. The pipeline spreads users over a fixed
    # number of partitions; every key of one partition shares one hash tag, so one Lua
    # script (dedupe + append, fenced ack, dead-letter) touches one cluster slot. These
    # keys carry no user data in their names: only the partition number and LINE's
    # opaque webhookEventId (or a hash of the event).
    #
    # The tags are spread: partition n's tag is ``p:<n>`` with the smallest suffix
    # ``.<k>`` that puts its slot in the n-th of ``count`` equal bands of the slot
    # space. A cluster made by ``redis-cli --cluster create`` gives each master one
    # range of slots, so each master then carries its share of the partitions; the
    # plain ``p:<n>`` tags put 10 of 16 on the first of three masters. A Redis whose
    # pipeline began with the plain tags keeps them (bot.pipeline.enqueue.ensure_partition_count).

    def use_partitions(self, count: int, *, spread: bool = True) -> None:
        """The partition count and tag layout every process of this Redis agrees on
        (read from Redis at start-up); until called: 16, spread."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"partition count must be an int >= 1, got {count!r}")
        self._partition_count = count
        self._spread = spread
        self._tags: dict[int, str] = {}

    @property
    def partitions_spread(self) -> bool:
        return self._spread

    def _partition_tag(self, index: int) -> str:
        tag = self._tags.get(index)
        if tag is None:
            tag = f"p:{index}"
            if self._spread:
                band = SLOTS * (index % self._partition_count) // self._partition_count
                end = SLOTS * (index % self._partition_count + 1) // self._partition_count
                k = 0
                while not band <= key_slot(tag.encode()) < end:
                    tag = f"p:{index}.{k}"
                    k += 1
            self._tags[index] = tag
        return tag

    def partition(self, index: int, part: str) -> str:
        """Key for one ``part`` of partition ``index``. Prefer a named method below."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"partition index must be an int >= 0, got {index!r}")
        _check_part(part)
        return f"{self._prefix}:{{{self._partition_tag(index)}}}:{part}"

    def partition_events(self, index: int) -> str:
        """The partition's event stream (consumer group ``workers``); entries are
        deleted once acknowledged, so it holds only events not yet handled."""
        return self.partition(index, "events")

    def partition_seen(self, index: int, event_id: str) -> str:
        """Set (with a TTL) once an event was appended, so a redelivery is not appended again."""
        return self.partition(index, f"seen:{self._event_part(event_id)}")

    def partition_lease(self, index: int) -> str:
        """Name of the one worker allowed to read and acknowledge the partition (SET NX PX)."""
        return self.partition(index, "lease")

    def partition_attempts(self, index: int) -> str:
        """Hash: stream entry id -> how many times the handler was started on it."""
        return self.partition(index, "attempts")

    def partition_dead_letters(self, index: int) -> str:
        """Stream of the partition's events that failed every attempt, with the reason."""
        return self.partition(index, "dead")

    def pipeline_workers(self) -> str:
        """Sorted set of live workers (score: heartbeat expiry, Redis server time in ms)."""
        return f"{self._prefix}:{{pipeline}}:workers"

    def pipeline_signals(self) -> str:
        """Pub/sub channel on which workers say a partition was freed or a worker
        joined or left, so the others rebalance at once instead of at their next round."""
        return f"{self._prefix}:{{pipeline}}:signals"

    def pipeline_alive(self, worker: str) -> str:
        """Pub/sub channel a running worker stays subscribed to: Redis drops the
        subscription the moment the worker's process dies, which tells the others."""
        return f"{self._prefix}:{{pipeline}}:alive:{worker}"

    def pipeline_partition_count(self) -> str:
        """The partition count every producer and worker must agree on."""
        return f"{self._prefix}:{{pipeline}}:partitions"

    # --- Handoff queue (bot.handoff): one hash tag for the whole queue ------------------
    # Layout: ``<prefix>:{handoff}:<part>``. Claiming must read and change a handoff and
    # the queue indexes in one Lua script, so they share one cluster slot. Handoff ids
    # are random; the user index maps pseudonyms (never LINE ids) to handoff ids.

    def handoff(self, part: str) -> str:
        """Key for one ``part`` of the handoff queue. Prefer a named method below."""
        _check_part(part)
        return f"{self._prefix}:{{handoff}}:{part}"

    def handoff_doc(self, handoff_id: str) -> str:
        """Hash: one handoff's fields (status, role, severity, timestamps, ...)."""
        return self.handoff(f"h:{self._event_part(handoff_id)}")

    # A chat's evidence is most of what the queue keeps (images up to 10 MB), so it has
    # a hash tag of its own per chat, ``{hx:<id>}``: on a cluster the chats' evidence
    # spreads over the nodes while the queue's slot keeps only its small indexes and
    # documents. No script touches the evidence together with the queue.

    def handoff_transcript(self, handoff_id: str) -> str:
        """List of sealed JSON entries: what the user, the bot and the counsellors said."""
        return f"{self._prefix}:{{hx:{self._event_part(handoff_id)}}}:log"

    def handoff_image(self, handoff_id: str, number: int) -> str:
        """Hash (content_type, data): an image the user sent, kept with the handoff."""
        return f"{self._prefix}:{{hx:{self._event_part(handoff_id)}}}:img:{int(number)}"

    def handoff_transcript_before_move(self, handoff_id: str) -> str:
        """Where a transcript was kept before the evidence had per-chat slots (in
        the queue's slot); read once, by bot.handoff.evidence.move_evidence."""
        return self.handoff(f"h:{self._event_part(handoff_id)}:log")

    def handoff_image_before_move(self, handoff_id: str, number: int) -> str:
        """Where an image was kept before the evidence had per-chat slots."""
        return self.handoff(f"h:{self._event_part(handoff_id)}:img:{int(number)}")

    def handoff_evidence_moved(self) -> str:
        """String: set once every chat's evidence is at its per-chat key."""
        return self.handoff("ev_moved")

    def handoff_waiting(self) -> str:
        """Sorted set of waiting handoff ids; score orders by priority, then waiting time."""
        return self.handoff("waiting")

    def handoff_claimed(self) -> str:
        """Sorted set of claimed handoff ids; score: last counsellor activity (ms)."""
        return self.handoff("claimed")

    def handoff_closed(self) -> str:
        """Sorted set of closed (or returned to the bot) handoff ids; score: closed at (ms)."""
        return self.handoff("closed")

    def handoff_by_user(self) -> str:
        """Hash: user pseudonym -> id of the user's open (waiting or claimed) handoff."""
        return self.handoff("by_user")

    def handoff_history(self) -> str:
        """Hash: user pseudonym -> the ids of every handoff the user had, in the order
        they were opened (space-separated). The console's history of the person; a
        hash, like ``handoff_by_user``, so no key is named after a user."""
        return self.handoff("history")

    def handoff_history_indexed(self) -> str:
        """String: set once every handoff made before the history index is in it."""
        return self.handoff("u_indexed")

    def handoff_follow_ups(self) -> str:
        """Sorted set: closed handoffs whose record asks for a follow-up not yet done;
        score: the day it is due (ms, Tokyo midnight)."""
        return self.handoff("follow_ups")

    def handoff_version(self) -> str:
        """Counter bumped on every change of the queue, so the console polls cheaply."""
        return self.handoff("version")

    # --- Console accounts (bot.console): ``<prefix>:{console}:<part>`` -------------------

    def console(self, part: str) -> str:
        """Key for one ``part`` of the console's accounts. Prefer a named method below."""
        _check_part(part)
        return f"{self._prefix}:{{console}}:{part}"

    def console_own_canned(self, name: str) -> str:
        """Hash: one account's own canned replies, id -> JSON {title, text, at}."""
        return self.console(f"canned:{self._event_part(name)}")

    def console_user(self, name: str) -> str:
        """Hash: one console account (role, argon2 hash, disabled flag, created at)."""
        return self.console(f"user:{self._event_part(name)}")

    def console_users(self) -> str:
        """Set of account names."""
        return self.console("users")

    def console_token(self, token_digest: str) -> str:
        """String: account name for a personal API token, by the token's SHA-256 (never the token)."""
        return self.console(f"token:{self._event_part(token_digest)}")

    def console_session(self, session_digest: str) -> str:
        """Hash (with a TTL): one signed-in console session (account, login and last-action
        times), by the SHA-256 of its id, so the keyspace holds no id a cookie could carry."""
        return self.console(f"session:{self._event_part(session_digest)}")

    def console_account_sessions(self, name: str) -> str:
        """Sorted set (with a TTL): digests of an account's sessions, score: when each ends
        at the latest, so all of them can be ended at once."""
        return self.console(f"sessions:{self._event_part(name)}")

    # --- Consultation records (bot.records): ``<prefix>:{records}:<part>`` ---------------
    # No message text: counts and codes per consultation, kept for the monthly report.

    def records(self, part: str) -> str:
        """Key for one ``part`` of the records. Prefer a named method below."""
        _check_part(part)
        return f"{self._prefix}:{{records}}:{part}"

    def record_doc(self, record_id: str) -> str:
        """Hash: one consultation's record."""
        return self.records(f"r:{self._event_part(record_id)}")

    def records_month(self, month: str) -> str:
        """Sorted set of record ids started in ``month`` (YYYY-MM, Tokyo); score: started at."""
        if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
            raise ValueError(f"month must be YYYY-MM, got {month!r}")
        return self.records(f"month:{month}")

    def records_open(self) -> str:
        """Hash: user pseudonym -> id of the user's consultation still going on."""
        return self.records("open")

    def records_purges(self) -> str:
        """Stream: one entry per purge run (when, cut-off, what was removed)."""
        return self.records("purges")

    # --- Audit log (bot.console.audit): ``<prefix>:{audit}:<part>`` ----------------------

    def audit_log(self) -> str:
        """Stream of console actions (who, what, which handoff); supervisors read it."""
        return f"{self._prefix}:{{audit}}:log"

    def audit_read_mark(self, digest: str) -> str:
        """String with a TTL: this sign-in has had its read of one chat recorded in this
        quarter hour (``digest``: SHA-256 of the credential, chat and quarter), so the
        pages' polls do not bury real reads under one entry every two seconds."""
        if not re.fullmatch(r"[0-9a-f]{64}", digest or ""):
            raise ValueError("an audit read mark is keyed by a SHA-256 hex digest")
        return f"{self._prefix}:{{audit}}:read:{digest}"

    def audit_refused(self, month: str) -> str:
        """Hash: anonymous refused attempts (login on an unknown name, while locked) counted
        per day and kind (``YYYY-MM-DD:<kind>`` -> n), one per month (YYYY-MM, Tokyo): a
        flood of them adds to counters, never entries."""
        if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
            raise ValueError(f"month must be YYYY-MM, got {month!r}")
        return f"{self._prefix}:{{audit}}:refused:{month}"

    # --- Login throttling (bot.console.auth), in the console's slot ---------------------

    def console_login_failures(self, subject_digest: str) -> str:
        """Counter (with a TTL) of login attempts not known to have succeeded, for one
        account name or client address, by a SHA-256 of it, so the keyspace does not list
        who tried."""
        return self.console(f"fail:{self._event_part(subject_digest)}")

    @staticmethod
    def _event_part(event_id: str) -> str:
        # webhookEventId is a ULID today; anything else is hashed rather than trusted in a key.
        if isinstance(event_id, str) and _EVENT_ID_RE.fullmatch(event_id):
            return event_id
        return hashlib.sha256(str(event_id).encode("utf-8")).hexdigest()[:32]

    def __repr__(self) -> str:
        # Never show the secret, not even in a traceback.
        return f"KeyBuilder(prefix={self._prefix!r}, secret=<hidden>)"
