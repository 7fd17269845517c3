"""やさしい日本語 (ja_easy): every kanji a child reads has its reading.

Issue 12: a kanji in a やさしい日本語 text is either replaced by kana or
followed at once by its reading in full-width parentheses — 電話（でんわ）,
24時間（じかん）, 命（いのち）. This scans

(a) every msgstr of the ja_easy catalog,
(b) every ``ja_easy`` value of the YAML resources (directory, profiles, chart,
    routing, console canned replies),
(c) the texts and buttons of real replies: a child talking in やさしい日本語 is
    walked through every option the chart offers, a crisis message and the
    other turns the engine can take, at several clock times (desk open,
    closed at night, a national holiday, the year-end closure),

and fails naming the string and the kanji that have no reading. It also
checks that each window is named by its official name (with readings), so a
child can find it (「わるぐち ホットライン」 is not a name anyone can look up).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from bot.simulator import reply_to_json
from dialogs.engine import Event, handle
from dialogs.hours import format_when
from dialogs.i18n import DOMAIN, LOCALE_DIR
from tests.conftest import tokyo

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
EASY_PO = LOCALE_DIR / "ja_easy" / "LC_MESSAGES" / f"{DOMAIN}.po"
YAML_FILES = [
    RESOURCES / "hotlines.yaml",
    *sorted((RESOURCES / "profiles").glob("*.yaml")),
    RESOURCES / "chart.yaml",
    RESOURCES / "routing.yaml",
    RESOURCES / "console" / "canned.yaml",
]

# CJK unified ideographs, extension A, and the repetition mark 々.
KANJI_RUN = re.compile(r"[\u3400-\u4DBF\u4E00-\u9FFF々]+")
# A reading: kana (a space or ・ may separate words) in full-width parentheses.
READING = re.compile(r"（[\u3041-\u3096\u30A1-\u30FAー・ 　]+）")


def unread_kanji(text: str) -> list[str]:
    """The kanji runs of ``text`` not followed at once by a kana reading."""
    return [m.group() for m in KANJI_RUN.finditer(text) if not READING.match(text, m.end())]


def problems(items: Iterator[tuple[str, str]]) -> list[str]:
    out = []
    for where, text in items:
        bare = unread_kanji(text)
        if bare:
            out.append(f"{where}: {'、'.join(dict.fromkeys(bare))} without a reading in {text!r}")
    return out


def report(found: list[str]) -> str:
    return f"{len(found)} やさしい日本語 text(s) have kanji without a reading:\n" + "\n".join(found)


# -- the check itself can fail -------------------------------------------------

@pytest.mark.parametrize("text, bare", [
    ("命があぶないときは", ["命"]),
    ("24時間 こども", ["時間"]),
    ("電話（でんわ）して、人に はなしてね", ["人"]),
    ("110番（けいさつ）", []),  # kana after the run passes: the reading is not checked for sense
    ("電話（denwa）", ["電話"]),  # a reading is kana, not romaji
    ("電話 （でんわ）", ["電話"]),  # the reading must follow at once
    ("電話(でんわ)", ["電話"]),  # full-width parentheses only
    ("人々（ひとびと）と 㐂（き）", []),
    ("人々と", ["人々"]),
    ("誹謗中傷（ひぼう ちゅうしょう）ホットライン", []),
    ("ひらがなと カタカナと 0120-0-78310 だけ", []),
])
def test_the_check_finds_kanji_without_a_reading(text, bare):
    assert unread_kanji(text) == bare


def test_a_bad_sample_is_reported_with_its_place_and_kanji():
    found = problems(iter([("po:crisis.sample", "命（いのち）が あぶない ときは 電話してね")]))
    assert found == ["po:crisis.sample: 電話 without a reading in '命（いのち）が あぶない ときは 電話してね'"]


# -- (a) the catalog ------------------------------------------------------------

def catalog_texts() -> Iterator[tuple[str, str]]:
    with EASY_PO.open("rb") as fh:
        catalog = read_po(fh, domain=DOMAIN)
    for message in catalog:
        if message.id:
            yield f"{EASY_PO.relative_to(RESOURCES.parent)} {message.id}", message.string


def test_catalog_has_a_reading_for_every_kanji():
    texts = list(catalog_texts())
    assert len(texts) > 100, "the whole catalog is read"
    found = problems(iter(texts))
    assert not found, report(found)


# -- (b) the YAML resources ------------------------------------------------------

def easy_values(node, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ja_easy":
                for where, text in strings(value, f"{path}.ja_easy"):
                    yield where, text
            else:
                yield from easy_values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            item = value.get("id") if isinstance(value, dict) else None
            yield from easy_values(value, f"{path}[{item or i}]")


def strings(node, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")


def yaml_texts() -> list[tuple[str, str]]:
    out = []
    for path in YAML_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += easy_values(data, str(path.relative_to(RESOURCES.parent)))
    return out


def test_yaml_resources_have_a_reading_for_every_kanji():
    texts = yaml_texts()
    assert len(texts) > 40, "the directory, the profile and the canned replies are read"
    found = problems(iter(texts))
    assert not found, report(found)


def without_readings(text: str) -> str:
    return re.sub(r"\s", "", READING.sub("", text))


def test_each_window_keeps_its_official_name():
    """The ja_easy name is the official (ja) name with readings added, so a
    child can search for it; a trailing note in parentheses may be reworded."""
    hotlines = yaml.safe_load((RESOURCES / "hotlines.yaml").read_text(encoding="utf-8"))["hotlines"]
    names = [(f"hotlines.yaml {h['id']}", h["name"]) for h in hotlines]
    for path in sorted((RESOURCES / "profiles").glob("*.yaml")):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        names.append((f"{path.name} desk", profile["desk"]["name"]))
        names += [(f"{path.name} {h['id']}", h["name"]) for h in profile.get("local_hotlines", [])]
    wrong = []
    for where, name in names:
        official = re.sub(r"\s", "", re.sub(r"（[^（）]*）$", "", name["ja"]))
        if official not in without_readings(name["ja_easy"]):
            wrong.append(f"{where}: {name['ja_easy']!r} does not contain the official name {name['ja']!r}")
        lost = set(NUMBER.findall(name["ja"])) - set(NUMBER.findall(name["ja_easy"]))
        if lost:  # 110番, （#9110）, （188）: the number is part of the name
            wrong.append(f"{where}: {name['ja_easy']!r} drops {sorted(lost)} of {name['ja']!r}")
    assert not wrong, "\n".join(wrong)


NUMBER = re.compile(r"#?\d+(?:-\d+)*")  # 0120-0-78310, 110, #9110
URL = re.compile(r"https?://[!-~]+")


def test_catalog_keeps_every_number_and_address_of_the_japanese_text():
    """Made easier, never poorer: each phone number (0120-0-78310, 110, 119,
    189, #9110 …) and web address of a ja message is in its ja_easy message."""
    def messages(lang):
        with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
            return {m.id: m.string for m in read_po(fh, domain=DOMAIN) if m.id}

    ja, easy = messages("ja"), messages("ja_easy")
    lost = []
    for key, text in ja.items():
        for pattern in (NUMBER, URL):
            missing = set(pattern.findall(text)) - set(pattern.findall(easy.get(key, "")))
            if missing:
                lost.append(f"{key}: {sorted(missing)} is in ja but not in ja_easy {easy.get(key)!r}")
    assert not lost, "\n".join(lost)


# -- (c) real replies -------------------------------------------------------------

CLOCKS = {
    "open": tokyo("2026-11-25 15:00"),  # Wednesday: desk and weekday windows open
    "night": tokyo("2026-11-25 23:00"),  # closed; opens tomorrow
    "holiday": tokyo("2026-11-23 15:00"),  # 勤労感謝の日
    "year_end": tokyo("2026-12-30 15:00"),  # closed until 1/4: a date is shown
}

# Typed messages: crises of each kind, and what the engine answers without a branch.
TYPED = [
    "もう死にたい",
    "ころすぞって言われた",
    "写真ばらまくぞ、金払えって言われた",
    "ネットで知り合った人に会おうって言われた",
    "友だちが死にたいって書いてた",
    "あのー",
    "えっと",
]
MEDIA = ["image", "video", "sticker", "location"]


def walk(dialogue, now, level: str) -> tuple[list[tuple[str, str]], set[str]]:
    """A child in やさしい日本語 takes every option from every state it can reach
    (staying in ja_easy), types the messages above from the menu, and sends
    media. Returns (where, text) for everything shown, and the states seen."""
    shown: list[tuple[str, str]] = []
    seen: set[str] = set()

    def answer(session, event, where):
        after, reply = handle(dialogue, session, event, now)
        if reply.lang != "ja_easy":
            return None, None
        out = reply_to_json("child", reply)
        shown.extend((f"{where} → {reply.state}", t) for t in out["texts"])
        shown.extend((f"{where} → {reply.state} [button]", label) for label in out["options"])
        seen.add(reply.state)
        return after, reply

    session, _ = answer(None, Event("follow", lang="ja_easy"), "follow")
    session, _ = answer(session, Event("postback", data="t=role_child"), "role_child")
    session, menu = answer(session, Event("postback", data=f"t=level_{level}"), f"level_{level}")
    assert menu is not None and menu.state == "menu", "a child reaches the menu in やさしい日本語"

    queue, explored = [(session, menu, "menu")], {"menu"}
    while queue:
        current, reply, where = queue.pop(0)
        for choice in reply.choices:
            after, nxt = answer(current, Event("postback", data=choice.data), f"{where} → {choice.data}")
            if nxt is not None and nxt.state not in explored:
                explored.add(nxt.state)
                queue.append((after, nxt, f"{where} → {choice.data}"))
    for text in TYPED:
        after, reply = answer(session, Event("text", text=text), f"menu, typed {text!r}")
        if reply is not None and reply.state == "menu":  # unclear: a second try goes further
            answer(after, Event("text", text="えっと"), f"menu, typed {text!r} twice")
    for kind in MEDIA:
        answer(session, Event("media", data=kind), f"menu, sent {kind}")
    # A crisis as the very first message, from a phone set to やさしい日本語.
    answer(None, Event("text", text="しにたい", lang="ja_easy"), "first message")
    return shown, seen


@pytest.mark.parametrize("level", ["elementary", "junior_high"])
@pytest.mark.parametrize("clock", list(CLOCKS))
def test_real_replies_have_a_reading_for_every_kanji(dialogue, clock, level):
    shown, seen = walk(dialogue, CLOCKS[clock], level)
    for state in ("menu", "talk", "delete", "danger", "security", "crisis", "human"):
        assert state in seen, f"the walk reached {state} ({clock}, {level}); seen: {sorted(seen)}"
    assert any("0120-0-78310" in t for _, t in shown)
    found = problems(iter(shown))
    assert not found, f"at {clock} ({CLOCKS[clock]:%Y-%m-%d %H:%M}), {level}: " + report(found)


def test_dates_and_times_have_no_kanji():
    """Opening times on cards: today, tomorrow, next week, next year."""
    now = tokyo("2026-12-01 10:00")
    for ahead in (timedelta(hours=7), timedelta(days=1), timedelta(days=6, hours=4), timedelta(days=300)):
        label = format_when(now + ahead, "ja_easy", now)
        assert unread_kanji(label) == [], label
