"""``python -m bot purge | clock | report``: the records' commands (wired in bot.cli).

They work on the Redis server the web and worker processes use (REDIS_URL):
without it the newcomer's in-process store would be empty and vanish on exit,
so they refuse with one line instead. ``report --demo`` needs no Redis: it
reports on a generated month (bot.records.demo) in a throw-away store.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


class CommandError(Exception):
    """An operator mistake: one line on stderr, exit code 2."""


def _store():
    """(client, keys, directory, sealer) of the deployment named by the environment."""
    from bot.config import ConfigError
    from bot.connection import connect_for_command
    from dialogs.directory import load_directory

    try:
        config, client, keys = connect_for_command(
            "records live in the Redis server the web and worker "
            "processes use; run this with their settings (REDIS_URL, BOT_ID_SECRET, BOT_PROFILE)")
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    from bot.crypto import Sealer

    return client, keys, load_directory(config.profile), Sealer(config.data_key)


def _purge_once(client, keys, profile, sealer, now: float | None = None, send=None) -> int:
    from bot.records.purge import purge

    run = purge(client, keys, profile.retention_days, now, open_limit_days=profile.open_limit_days,
                sealer=sealer, send=send)
    cutoff = datetime.fromtimestamp(run.cutoff).astimezone().isoformat(timespec="seconds")
    print(f"purge: {run.expired} open chats idle for {profile.open_limit_days} days returned to the bot; "
          f"handoffs closed before {cutoff} ({profile.retention_days} days): {run.handoffs} purged, "
          f"{run.transcripts} transcripts, {run.images} images, {run.identities} identities removed",
          file=sys.stderr, flush=True)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    client, keys, directory, sealer = _store()
    now = args.now.timestamp() if args.now else None
    return _purge_once(client, keys, directory.profile, sealer, now)


def cmd_clock(args: argparse.Namespace, stop) -> int:
    """The Procfile's clock: process, until SIGTERM: the purge now and then daily;
    every minute, users still waiting when counsellors go off duty are told so
    (bot.handoff.bridge.tell_off_duty)."""
    import time

    from bot.handoff.bridge import send_to_user, tell_off_duty
    from bot.handoff.queue import HandoffQueue
    from bot.pipeline.enqueue import DEFAULT_PARTITIONS
    from dialogs.hours import TOKYO

    client, keys, directory, sealer = _store()
    days = directory.profile.retention_days
    queue = HandoffQueue(client, keys, sealer=sealer)
    hours = directory.profile.desk.hours
    print(f"clock: purging daily, retention {days} days; checking the desk's hours every minute",
          file=sys.stderr, flush=True)

    def send(handoff, action, payload, event_id=None):
        return send_to_user(client, keys, DEFAULT_PARTITIONS, handoff, action, event_id=event_id, **payload)

    last_purge = 0.0
    while not stop.is_set():
        # A Redis blip must not end the clock: the next round tries again.
        if time.monotonic() - last_purge >= 24 * 3600 or not last_purge:
            try:
                _purge_once(client, keys, directory.profile, sealer, send=send)
                last_purge = time.monotonic()
            except Exception as exc:
                print(f"clock: purge failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        try:
            told = tell_off_duty(queue, send, hours.is_open(datetime.now(TOKYO)))
            if told:
                print(f"clock: told {told} waiting users that counsellors are off duty", file=sys.stderr, flush=True)
        except Exception as exc:
            print(f"clock: off-duty check failed: {type(exc).__name__}", file=sys.stderr, flush=True)
        stop.wait(60)
    print("clock: stopped", file=sys.stderr, flush=True)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.records.book import RecordBook
    from bot.records.output import write_report

    if args.demo:
        import fakeredis

        from bot.records.demo import generate
        from bot.storage.keys import KeyBuilder
        from dialogs.directory import load_directory

        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        keys = KeyBuilder(secret=b"demo-report-pseudonyms-0123456789")
        directory = load_directory(args.profile)
        generate(client, keys, directory, month=args.month)
    else:
        client, keys, directory, _ = _store()
    book = RecordBook(client, keys)
    records = book.month(args.month)
    out = Path(args.out)
    # Asked of the store, not of --demo: a month generated into a real Redis is made up too.
    demo = book.is_generated(args.month)
    html_path, csv_path = write_report(out, args.month, records, directory, demo=demo)
    print(f"report: {len(records)} consultations in {args.month}{' (generated: デモデータ)' if demo else ''}: "
          f"{html_path} {csv_path}")
    return 0


def month(value: str) -> str:
    """argparse type for --month: YYYY-MM."""
    from bot.records.report import is_month

    if not is_month(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month; write e.g. 2026-11")
    return value
