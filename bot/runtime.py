"""Everything a web or worker process holds, built once from the Config.

The web app, ``python -m bot worker`` and ``python -m bot serve`` all build a
:class:`Runtime` here, so the three share one wiring: the Redis client (a real
server, or the newcomer's in-process store), the key builder, the loaded and
validated dialogue, the session service, the LINE sender and the webhook's
signature parser. Nothing is built at import time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import redis
from linebot.v3.webhook import WebhookParser

from bot.clock import Clock
from bot.config import Config
from bot.conversation.core import Conversation
from bot.crypto import Sealer
from bot.handoff.recent import RecentTurns
from bot.handoff.bridge import HandoffBridge, send_to_user
from bot.handoff.queue import Handoff, HandoffQueue
from bot.line.apiclient import LineApi
from bot.line.handler import LineHandler
from bot.line.loading import LoadingIndicator
from bot.line.sender import CONNECT_TIMEOUT, Sender
from bot.line.standin import StandinLine
from bot.line.usermenu import UserMenus
from bot.pipeline.enqueue import DEFAULT_PARTITIONS, ensure_partition_count
from bot.pipeline.worker import Worker
from bot.records.book import RecordBook
from bot.service import ConsultationService, tokyo_now
from bot.storage.keys import KeyBuilder
from bot.storage.redis import RedisStorage, make_redis_client
from dialogs.engine import Dialogue, Event, handle
from dialogs.hours import TOKYO
from dialogs.i18n import compile_catalogs

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The process must not start; the message says why and how to fix it."""


@dataclass
class Runtime:
    config: Config
    dialogue: Dialogue
    client: redis.Redis
    keys: KeyBuilder
    service: ConsultationService
    sender: Sender
    parser: WebhookParser
    queue: HandoffQueue
    records: RecordBook
    partitions: int = DEFAULT_PARTITIONS
    #: The built-in Messaging API stand-in (local mode only).
    standin: StandinLine | None = None
    #: Tokyo time, for the dialogue and the desk's hours; ``epoch`` is the same clock in
    #: epoch seconds, for what the queue, the records and the console stamp and measure.
    #: build_runtime takes both from one Clock (``serve --at`` sets it).
    clock: Callable[[], datetime] = tokyo_now
    epoch: Callable[[], float] = time.time
    #: LINE's loading animation for slow answers, and the per-user rich menu.
    loading: LoadingIndicator | None = None
    menus: UserMenus | None = None
    _threads: list[tuple[Worker, threading.Thread, threading.Event]] = field(default_factory=list)

    def conversation(self) -> Conversation:
        """The conversation core every channel goes through."""
        return Conversation(self.service, self.client, self.keys, self.clock, handoffs=self.bridge(),
                            records=self.records)

    def handler(self) -> LineHandler:
        return LineHandler(self.conversation(), self.sender, self.client, self.keys,
                           loading=self.loading, menus=self.menus)

    def bridge(self) -> HandoffBridge:
        return HandoffBridge(self.queue, self.dialogue, self.sender.fetch_content, self.clock,
                             send=self.send_to_user,
                             recent=RecentTurns(self.client, self.keys, self.queue.sealer), epoch=self.epoch)

    def send_to_user(self, handoff: Handoff, action: str, payload: dict | None = None, *,
                     event_id: str | None = None) -> str:
        """Queue a console message for the handoff's user (the worker pushes it)."""
        # sent_at is compared with the handoff's closed_at, which the queue stamped by this clock.
        payload = {"sent_at": self.epoch(), **(payload or {})}
        return send_to_user(self.client, self.keys, self.partitions, handoff, action,
                            event_id=event_id, **payload)

    def desk_open(self) -> bool:
        return self.dialogue.desk_open(self.clock())

    def worker(self, name: str | None = None, **options) -> Worker:
        worker = Worker(self.client, self.keys, self.handler(), name=name,
                        partitions=self.partitions, **options)
        storage = self.service.storage
        if isinstance(storage, RedisStorage) and not storage.holder:
            # The user locks this process takes carry the worker's name, and the
            # locks of a worker found dead are taken over at once.
            storage.holder, storage.holder_gone = worker.name, worker.is_gone
        return worker

    def start_workers(self, count: int, **options) -> None:
        """Worker threads in this process (the newcomer's embedded mode, tests)."""
        for n in range(count):
            worker = self.worker(name=f"embedded-{n}", **options)
            stop = threading.Event()
            thread = threading.Thread(target=worker.run, args=(stop,), name=worker.name, daemon=True)
            thread.start()
            self._threads.append((worker, thread, stop))

    def stop(self) -> None:
        for _, _, stop in self._threads:
            stop.set()
        for _, thread, _ in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self.sender.close()
        for extra in (self.loading, self.menus):
            if extra is not None:
                extra.close()


def embedded_redis() -> redis.Redis:
    """An in-process Redis with Lua (fakeredis), for the newcomer's default."""
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def build_runtime(config: Config, *, client: redis.Redis | None = None,
                  partitions: int = DEFAULT_PARTITIONS, clock: Clock | None = None) -> Runtime:
    """Load and check everything; raise StartupError naming what is wrong.
    ``clock``: the time the consultation lives at (default: the wall clock)."""
    clock = clock or Clock()
    try:
        cache_dir = Path(config.catalog_cache) if config.catalog_cache else None
        catalogs = compile_catalogs(cache_dir=cache_dir)
        dialogue = Dialogue.load(config.profile, catalogs=catalogs, cache_dir=cache_dir)
        rehearse(dialogue, clock.now())
    except Exception as exc:  # every loader error is a reason not to start
        raise StartupError(
            f"the dialogue for profile {config.profile!r} (BOT_PROFILE) did not load: {exc}"
        ) from exc
    if client is None:
        client = (make_redis_client(config.redis_url, sentinels=config.redis_sentinels,
                                    master=config.redis_sentinel_master,
                                    cluster_nodes=config.redis_cluster_nodes)
                  if config.redis_url else embedded_redis())
    keys = KeyBuilder(secret=config.id_secret)
    try:
        client.ping()
        ensure_partition_count(client, keys, partitions)
    except Exception as exc:
        raise StartupError(f"Redis at {config.describe()[2]} is not usable: {exc}") from exc
    storage = RedisStorage(client, keys)
    standin = StandinLine(access_token=config.access_token) if config.local_line else None
    queue = HandoffQueue(client, keys, clock=clock.epoch, sealer=Sealer(config.data_key))
    if not config.redis_cluster_nodes:
        # A server that held the queue before the evidence had per-chat slots: its
        # transcripts and images move, once, before any process reads them.
        try:
            queue.move_evidence()
        except Exception as exc:
            raise StartupError(f"the chats' transcripts could not be moved to their new keys: {exc}") from exc
    return Runtime(
        config=config,
        dialogue=dialogue,
        client=client,
        keys=keys,
        service=ConsultationService(dialogue, storage, clock=clock.now),
        queue=queue,
        records=RecordBook(client, keys, clock=clock.epoch),
        clock=clock.now,
        epoch=clock.epoch,
        sender=Sender(config.api_base_url, config.access_token,
                      data_base_url=getattr(config, "line_data_api_base_url", None),
                      timeout=(CONNECT_TIMEOUT, config.line_read_timeout_ms / 1000)),
        parser=WebhookParser(config.channel_secret),
        partitions=partitions,
        standin=standin,
        loading=LoadingIndicator(LineApi.open(config.api_base_url, config.access_token)),
        menus=UserMenus(LineApi.open(config.api_base_url, config.access_token), client, keys),
    )


def rehearse(dialogue: Dialogue, now: datetime | None = None) -> None:
    """Answer a follow and a typed sentence once, in memory, before serving.

    Loading validates the data; this runs it. Anything that would only fail
    on a real message (data read on first use, a catalog entry that cannot be
    formatted, a card that cannot be rendered) stops start-up instead of the
    first child's message. The dialogue is pure: nothing is stored or sent.
    """
    # At the clock the process will serve with: the desk open or closed, as users will find it.
    now = now or datetime.now(TOKYO)
    session, _ = handle(dialogue, None, Event("follow"), now)
    handle(dialogue, session, Event("text", text="書き込みを消したい"), now)
