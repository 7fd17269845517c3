"""The tools beside a chat, fitted to it: hotline cards in the order the chat's
kind of trouble needs (the 24-hour line first on an urgent one), canned replies
for a child at risk first, every source in words a counsellor reads, and the
closing record ticked with the cards the chat already gave."""

from __future__ import annotations

import re

import pytest

from bot.console import present
from bot.console.canned import CannedError, load_canned
from tests.console.test_api import (  # noqa: F401  (fixtures)
    CHILD,
    GUARDIAN,
    as_user,
    boss,
    open_chat,
    people,
    runtime,
    sato,
    suzuki,
)

SEED_FILE = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")


def page(session, hid) -> str:
    answer = session.get(f"/console/h/{hid}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def card_buttons(html: str) -> list[str]:
    panel = html[html.index('id="hotlines-title"'):]
    return re.findall(r'class="button card-button" data-hotline="([^"]+)"', panel)


def test_an_urgent_chat_s_cards_start_with_the_24_hour_line_then_its_danger_s(runtime, sato):
    h = open_chat(runtime)  # a child, self_harm, urgent
    order = card_buttons(page(sato, h.id))
    danger = runtime.dialogue.dangers["self_harm"]
    assert order[0] == "sos_dial"
    assert order[:len(danger.cards)] == ["sos_dial", *[c for c in danger.cards if c != "sos_dial"]]
    assert sorted(order) == sorted(runtime.dialogue.directory.ids), "every window is still there"


def test_a_guardian_writing_about_a_threat_gets_the_cards_for_someone_else_s_danger(runtime, sato):
    h = open_chat(runtime, GUARDIAN, role="guardian", category="threat", severity="high",
                  reasons=["threat.kill"])
    expected = list(dict.fromkeys(["sos_dial", *runtime.dialogue.dangers["threat"].cards_other]))
    assert card_buttons(page(sato, h.id))[:len(expected)] == expected


def test_a_calm_chat_s_cards_follow_the_chart_for_its_category(runtime):
    dialogue = runtime.dialogue
    h = open_chat(runtime, category="delete", urgent=False, severity=None, reasons=[])
    charted = [ref.id for state in dialogue.chart.states.values() if state.branch == "delete"
               for ref in state.hotlines if ref.when.matches("child", None)]
    assert charted, "the chart shows windows for deleting a post"
    order = present.card_order(dialogue, h)
    assert order[:len(set(charted))] == list(dict.fromkeys(charted))
    assert order[0] != "sos_dial" or "sos_dial" in charted


def test_the_closing_record_starts_ticked_with_the_cards_given(runtime, sato):
    h = open_chat(runtime)
    runtime.queue.append(h.id, {"from": "bot", "kind": "text", "text": "…", "cards": ["sos_dial", "police_110"]})
    sato.post(f"/api/handoffs/{h.id}/claim")
    assert sato.post(f"/api/handoffs/{h.id}/card", {"hotline": "jinken"}).status_code == 200
    html = page(sato, h.id)
    ticked = re.findall(r'name="referred" value="([^"]+)" checked', html)
    assert sorted(ticked) == ["jinken", "police_110", "sos_dial"]


def test_an_urgent_chat_lists_the_replies_for_a_child_at_risk_first_with_sources_in_words(runtime, sato):
    html = page(sato, open_chat(runtime).id)
    ids = re.findall(r'class="button canned-button" data-canned="[^"]*"\s+data-id="([^"]+)"', html)
    crisis = [r.id for r in load_canned(runtime.dialogue.directory).replies if r.crisis]
    assert {"safe_now", "ask_directly", "plan", "means_away", "after_hours"} <= set(crisis)
    assert ids[:len(crisis)] == crisis
    canned_panel = html[html.index('id="canned-list"'):html.index('id="canned-none"')]
    assert "出典：" in canned_panel and not SEED_FILE.search(canned_panel)
    assert "文部科学省「教師が知っておきたい子どもの自殺予防」" in canned_panel
    calm = page(sato, open_chat(runtime, GUARDIAN, category="delete", urgent=False, severity=None, reasons=[]).id)
    calm_ids = re.findall(r'data-canned="[^"]*"\s+data-id="([^"]+)"', calm)
    assert calm_ids[0] == "save_screen" and calm_ids[-len(crisis):] == crisis, "a calm chat: the others first"


def test_the_signs_read_as_words_with_the_code_on_hover(runtime, sato):
    html = page(sato, open_chat(runtime).id)
    assert 'title="self_harm.wish_to_die">自殺・自傷：死にたいという言葉</span>' in html
    listed = sato.get("/api/handoffs?status=waiting").get_json()["handoffs"][0]
    assert listed["reason_labels"] == ["自殺・自傷：死にたいという言葉"]


def test_a_source_that_names_no_known_document_stops_the_console(tmp_path, runtime):
    from bot.console.canned import CANNED_PATH

    text = CANNED_PATH.read_text(encoding="utf-8").replace(
        "文科省TALK「Ask（はっきりと言葉に出して尋ねる）」", "どこかの本", 1)
    path = tmp_path / "canned.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CannedError, match="ask_directly.*names none of the documents"):
        load_canned(runtime.dialogue.directory, path)
