"""A generated month of consultations, for the report's tests and its demonstration.

Seeded, so a month is the same every run. Every consultation goes through the
real RecordBook (and, when handed off, the real HandoffQueue with its clock set
to the planned instants), so what the report reads is what the bot would have
written. ``plan`` is what was intended, kept apart from the records so a test
can compute the expected numbers without reading them back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from bot.handoff.queue import HandoffQueue
from bot.records.book import RecordBook
from bot.storage.keys import KeyBuilder
from dialogs.directory import Directory
from dialogs.hours import TOKYO
from dialogs.reply import HotlineCard, Reply

ROLES = ("child", "child", "child", "guardian", "guardian", "teacher")
LEVELS = ("elementary", "junior_high", "junior_high", "high_school", "high_school")
LANGS = ("ja",) * 8 + ("ja_easy", "en")
BRANCHES = ("delete", "delete", "talk", "mail", "bill", "security", "report", "danger", "expert", "damages")
CRISES = (("self_harm", "self_harm.wish_to_die", "critical"), ("threat", "threat.kill", "high"),
          ("extortion", "extortion.sextortion", "high"))
# Afternoon and evening, when children are out of school, weigh most.
HOUR_WEIGHTS = [1, 1, 0, 0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5, 7, 8, 8, 8, 7, 6, 4, 2]
PLANTED_PHONE = "090-1234-5678"


@dataclass
class Planned:
    """One consultation as intended (the truth a test compares with)."""

    user: str
    start: datetime
    role: str
    level: str | None
    lang: str
    branch: str
    hotlines: list[str]
    crisis: tuple[str, str, str] | None
    outside_hours: bool
    handoff: bool = False
    wait: float | None = None  # seconds queued -> claimed
    first_response: float | None = None  # seconds queued -> first reply
    referred: list[str] = field(default_factory=list)
    advice: str = ""


def _card(hotline_id: str) -> HotlineCard:
    return HotlineCard(id=hotline_id, name=hotline_id, summary="", phones=(), url=None, line_id=None,
                       status="", open_now=None)


def generate(client: redis.Redis, keys: KeyBuilder, directory: Directory, month: str = "2026-11",
             count: int = 300, seed: int = 20261130) -> list[Planned]:
    """Write ``count`` consultations started in ``month`` (Tokyo) and return the plan."""
    rng = random.Random(seed)
    year, mon = (int(x) for x in month.split("-"))
    first = datetime(year, mon, 1, tzinfo=TOKYO)
    days = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
    hotline_ids = [h.id for h in directory.all()]
    book = RecordBook(client, keys)
    book.mark_generated(month)
    now = [0.0]
    queue = HandoffQueue(client, keys, clock=lambda: now[0])
    plan: list[Planned] = []
    for i in range(count):
        start = first + timedelta(days=rng.randrange(days), hours=rng.choices(range(24), HOUR_WEIGHTS)[0],
                                  minutes=rng.randrange(60), seconds=rng.randrange(60))
        role = rng.choice(ROLES)
        crisis = rng.choice(CRISES) if rng.random() < 0.1 else None
        item = Planned(
            user="U" + f"{rng.getrandbits(128):032x}", start=start, role=role,
            level=rng.choice(LEVELS) if role == "child" else None, lang=rng.choice(LANGS),
            branch=rng.choice(BRANCHES), hotlines=rng.sample(hotline_ids, rng.randint(0, 3)), crisis=crisis,
            outside_hours=not directory.profile.desk.hours.is_open(start),
        )
        item.handoff = crisis is not None or rng.random() < 0.15
        _feed(book, item, i)
        if item.handoff:
            _hand_off(book, queue, now, item, rng, hotline_ids, i)
        elif rng.random() < 0.05:
            book.user_left(item.user, start + timedelta(minutes=5))
        plan.append(item)
    return plan


def _feed(book: RecordBook, item: Planned, i: int) -> None:
    """The answers of one consultation: role, a topic with its cards, maybe a crisis."""
    base = dict(texts=(), choices=(), lang=item.lang, role=item.role, level=item.level)
    book.note_answer(item.user, Reply(cards=(), state="start", **base), item.start,
                     not item.outside_hours, f"ev{i}a")
    cards = tuple(_card(h) for h in item.hotlines)
    book.note_answer(item.user, Reply(cards=cards, state=item.branch, branch=item.branch, **base),
                     item.start + timedelta(seconds=40), not item.outside_hours, f"ev{i}b")
    if item.crisis:
        category, reason, severity = item.crisis
        book.note_answer(item.user, Reply(cards=(), state="crisis", branch="crisis", urgent=True,
                                          severity=severity, reasons=(reason,), handoff=True, **base),
                         item.start + timedelta(seconds=50), not item.outside_hours, f"ev{i}c")


def _hand_off(book: RecordBook, queue: HandoffQueue, now: list[float], item: Planned, rng: random.Random,
              hotline_ids: list[str], i: int) -> None:
    queued = item.start.timestamp() + 60
    category, _, severity = item.crisis or (item.branch, "", None)
    now[0] = queued
    handoff = queue.open(item.user, role=item.role, level=item.level, lang=item.lang, category=category,
                         urgent=item.crisis is not None, severity=severity,
                         reasons=[item.crisis[1]] if item.crisis else [])
    book.note_handoff(item.user, handoff)
    # Urgent chats are taken within minutes; others wait longer, out of hours until the desk opens.
    item.wait = float(rng.randint(20, 600) if item.crisis else rng.randint(60, 5400))
    item.first_response = item.wait + rng.randint(15, 240)
    now[0] = queued + item.wait
    queue.claim(handoff.id, "demo-counsellor")
    now[0] = queued + item.first_response
    queue.touch(handoff.id, "demo-counsellor", reply=True)
    item.referred = rng.sample(hotline_ids, rng.randint(0, 2))
    item.advice = "削除依頼の方法を説明した。"
    if i % 50 == 7:
        item.advice = f"保護者の電話番号 {PLANTED_PHONE} を聞いた。"
    now[0] = queued + item.first_response + rng.randint(300, 2400)
    record = {"role": item.role, "category": category if category in _CATEGORIES else "other",
              "advice": item.advice, "referred": item.referred, "school_contact_agreed": "not_asked",
              "follow_up": {"needed": False, "text": ""}}
    result = queue.close(handoff.id, "demo-counsellor", record)
    assert result.handoff is not None
    book.handoff_ended(result.handoff)


_CATEGORIES = frozenset({"self_harm", "threat", "extortion", "grooming", "abuse", "violence_by_writer",
                         "talk", "expert", "delete", "damages", "danger", "report", "mail", "bill", "security"})
