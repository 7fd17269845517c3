"""render(Reply) -> LINE messages: LINE's limits, order, tel: links, altText,
quick replies on the last message; and every answer the real dialogue gives
renders into messages the LINE stand-in (validating like LINE) accepts."""

from __future__ import annotations

import json

import pytest
from linebot.v3.messaging import FlexMessage, TextMessage

from bot.line.render import (
    MAX_ALT_TEXT,
    MAX_TEXT,
    CardLabels,
    alt_text,
    render,
    utf16_len,
)
from bot.line.standin import validate_messages
from dialogs.reply import Choice, HotlineCard, PhoneLink, Reply
from tests.conftest import tokyo

SOS = HotlineCard(
    id="sos_dial",
    name="24時間子供SOSダイヤル",
    summary="いじめや自分・友だちの安全の不安を、24時間電話で相談できます。",
    phones=(PhoneLink("0120-0-78310", "tel:0120078310"),),
    url="https://www.mext.go.jp/a_menu/shotou/seitoshidou/06112210.htm",
    line_id=None,
    status="24時間・年中無休",
    open_now=True,
)
POLICE_CONSULT = HotlineCard(
    id="police_consult_9110",
    name="警察相談専用電話（#9110）",
    summary="緊急ではない困りごとを警察に相談するための電話。",
    phones=(PhoneLink("#9110", "tel:%239110"),),
    url=None,
    line_id=None,
    status="いまは受付時間外です。次は1月4日(月) 8:30から",
    open_now=False,
    hours_note="多くの都道府県では平日8:30〜17:15です。",
)
WEB_ONLY = HotlineCard(
    id="mamorouyokokoro",
    name="まもろうよ こころ",
    summary="電話やSNSの相談窓口の一覧。",
    phones=(),
    url="https://www.mhlw.go.jp/mamorouyokokoro",
    line_id=None,
    status="いつでも利用できます",
    open_now=None,
)


def reply(texts=("こんにちは。",), cards=(), choices=(), urgent=False, lang="ja") -> Reply:
    return Reply(
        texts=tuple(texts), cards=tuple(cards), choices=tuple(choices), state="s", lang=lang, urgent=urgent
    )


def as_dicts(messages):
    return [m.to_dict() for m in messages]


def texts_of(messages):
    return [m.text for m in messages if isinstance(m, TextMessage)]


def buttons(bubble: dict) -> list[dict]:
    footer = bubble.get("footer") or {"contents": []}
    return [c["action"] for c in footer["contents"] if c["type"] == "button"]


def body_texts(bubble: dict) -> list[str]:
    return [c["text"] for c in bubble["body"]["contents"] if c["type"] == "text"]


# --- texts --------------------------------------------------------------------


def test_texts_become_text_messages_in_order():
    messages = render(reply(["一", "二", "三"]))
    assert texts_of(messages) == ["一", "二", "三"]
    assert all(isinstance(m, TextMessage) for m in messages)


def test_empty_texts_are_dropped():
    assert texts_of(render(reply(["一", "", "  ", "二"]))) == ["一", "二"]


def test_too_many_texts_are_merged_into_five_messages_keeping_every_word_in_order():
    texts = [f"文{i}" for i in range(9)]
    messages = render(reply(texts))
    assert len(messages) == 5
    joined = "\n\n".join(texts_of(messages))
    assert [t for t in joined.split("\n\n")] == texts


def test_with_cards_texts_get_four_messages_and_the_cards_the_fifth():
    texts = [f"文{i}" for i in range(7)]
    messages = render(reply(texts, cards=[SOS]))
    assert len(messages) == 5
    assert isinstance(messages[-1], FlexMessage)
    assert "\n\n".join(texts_of(messages)).split("\n\n") == texts


def test_urgent_first_text_stays_first_and_alone_when_texts_are_merged():
    first = "話してくれて、ありがとう。\n24時間子供SOSダイヤル 0120-0-78310（無料・24時間）"
    texts = [first] + [f"補足{i}" for i in range(8)]
    messages = render(reply(texts, cards=[SOS, POLICE_CONSULT], urgent=True))
    assert len(messages) == 5
    assert messages[0].text == first


def test_shortest_neighbours_are_merged_first():
    texts = ["最初", "長い" * 100, "短1", "短2", "長い" * 100, "最後" * 50]
    messages = render(reply(texts))
    assert texts_of(messages) == ["最初", "長い" * 100, "短1\n\n短2", "長い" * 100, "最後" * 50]


def test_a_text_over_5000_utf16_units_is_split_at_a_line_break():
    line = "あ" * 99 + "\n"
    long_text = line * 80  # 8000 characters
    messages = render(reply([long_text]))
    assert len(messages) == 2
    assert all(utf16_len(t) <= MAX_TEXT for t in texts_of(messages))
    assert "\n".join(texts_of(messages)) == long_text  # cut at a line break, nothing lost
    assert texts_of(messages)[0].endswith("あ")


def test_text_length_is_counted_in_utf16_units_like_line():
    emoji = "😀" * 2500  # 2500 characters, 5000 UTF-16 units: the limit exactly
    assert texts_of(render(reply([emoji]))) == [emoji]
    over = "😀" * 2501
    parts = texts_of(render(reply([over])))
    assert len(parts) == 2 and "".join(parts) == over
    assert all(utf16_len(p) <= MAX_TEXT for p in parts)


def test_merging_never_makes_a_text_longer_than_the_limit():
    texts = ["あ" * 3000 for _ in range(7)]
    messages = render(reply(texts))
    assert len(messages) <= 5
    assert all(utf16_len(t) <= MAX_TEXT for t in texts_of(messages))


# --- cards --------------------------------------------------------------------


def test_cards_are_one_flex_carousel_after_the_texts():
    messages = render(reply(["一", "二"], cards=[SOS, POLICE_CONSULT, WEB_ONLY]))
    assert [type(m) for m in messages] == [TextMessage, TextMessage, FlexMessage]
    carousel = messages[-1].to_dict()["contents"]
    assert carousel["type"] == "carousel"
    assert [body_texts(b)[0] for b in carousel["contents"]] == [SOS.name, POLICE_CONSULT.name, WEB_ONLY.name]


def test_a_card_shows_name_what_it_does_and_open_status():
    bubble = render(reply(cards=[POLICE_CONSULT]))[-1].to_dict()["contents"]["contents"][0]
    lines = body_texts(bubble)
    assert lines[0] == POLICE_CONSULT.name
    assert POLICE_CONSULT.summary in lines
    assert POLICE_CONSULT.status in lines
    assert POLICE_CONSULT.hours_note in lines


def test_call_button_is_a_tel_link_and_web_button_the_url():
    bubble = render(reply(cards=[SOS]))[-1].to_dict()["contents"]["contents"][0]
    call, web = buttons(bubble)
    assert call == {"type": "uri", "label": "☎ 0120-0-78310", "uri": "tel:0120078310"}
    assert web["type"] == "uri" and web["uri"] == SOS.url
    assert web["label"] == "mext.go.jp"


def test_hash_numbers_keep_their_encoded_tel_link():
    bubble = render(reply(cards=[POLICE_CONSULT]))[-1].to_dict()["contents"]["contents"][0]
    assert buttons(bubble) == [{"type": "uri", "label": "☎ #9110", "uri": "tel:%239110"}]  # no url: no web button


def test_a_card_with_no_phone_has_only_the_web_button():
    bubble = render(reply(cards=[WEB_ONLY]))[-1].to_dict()["contents"]["contents"][0]
    assert [b["uri"] for b in buttons(bubble)] == [WEB_ONLY.url]


def test_a_card_with_neither_phone_nor_url_has_no_footer():
    bare = HotlineCard("x", "窓口", "説明", (), None, "someline", "受付時間は窓口に確かめてください", None)
    bubble = render(reply(cards=[bare]))[-1].to_dict()["contents"]["contents"][0]
    assert "footer" not in bubble
    assert "LINE someline" in body_texts(bubble)


def test_catalog_labels_are_used_and_the_number_stays_readable():
    labels = CardLabels(call=lambda number: "電話する", web=lambda url: "ウェブサイト")
    bubble = render(reply(cards=[SOS]), labels)[-1].to_dict()["contents"]["contents"][0]
    assert [b["label"] for b in buttons(bubble)] == ["電話する", "ウェブサイト"]
    assert "☎ 0120-0-78310" in body_texts(bubble)  # the label hides it: the body shows it


def test_shipped_catalogs_label_the_card_buttons_in_every_language(catalogs):
    for lang, call in (("ja", "電話する 0120-0-78310"), ("ja_easy", "でんわする 0120-0-78310"),
                       ("en", "Call 0120-0-78310")):
        bubble = render(reply(cards=[SOS]), CardLabels.from_catalog(catalogs, lang))[-1].to_dict()
        assert buttons(bubble["contents"]["contents"][0])[0]["label"] == call


def test_labels_fall_back_to_card_data_when_a_catalog_lacks_the_keys():
    class Empty:
        def has(self, lang, key):
            return False

    bubble = render(reply(cards=[SOS]), CardLabels.from_catalog(Empty(), "ja"))[-1].to_dict()
    assert buttons(bubble["contents"]["contents"][0])[0]["label"] == "☎ 0120-0-78310"


def test_catalog_labels_come_from_the_catalog_when_the_keys_exist():
    class Catalog:
        def has(self, lang, key):
            return key in ("card.call", "card.web")

        def text(self, lang, key, **params):
            return {"card.call": "電話する {number}", "card.web": "ウェブサイトを見る"}[key].format(**params)

    bubble = render(reply(cards=[SOS]), CardLabels.from_catalog(Catalog(), "ja"))[-1].to_dict()
    call, web = buttons(bubble["contents"]["contents"][0])
    assert call["label"] == "電話する 0120-0-78310" and web["label"] == "ウェブサイトを見る"


def test_button_labels_are_cut_to_20_characters():
    labels = CardLabels(call=lambda number: "とても長い電話のボタンのラベルです " + number)
    bubble = render(reply(cards=[SOS]), labels)[-1].to_dict()["contents"]["contents"][0]
    assert len(buttons(bubble)[0]["label"]) == 20 and buttons(bubble)[0]["label"].endswith("…")


def test_alt_text_lists_every_name_and_number():
    message = render(reply(cards=[SOS, POLICE_CONSULT, WEB_ONLY]))[-1]
    assert message.alt_text == (
        "24時間子供SOSダイヤル ☎0120-0-78310\n警察相談専用電話（#9110） ☎#9110\nまもろうよ こころ"
    )


def test_alt_text_stays_within_1500():
    long = HotlineCard("x", "名" * 400, "s", (PhoneLink("0120-0-78310", "tel:0120078310"),), None, None, "s", None)
    assert utf16_len(alt_text([long] * 5)) <= MAX_ALT_TEXT


def test_at_most_12_bubbles_and_the_rest_as_text():
    cards = [
        HotlineCard(f"c{i}", f"窓口{i}", "説明", (PhoneLink(f"0120-{i}", f"tel:0120{i}"),), None, None, "s", None)
        for i in range(14)
    ]
    messages = render(reply(["本文"], cards=cards))
    carousel = messages[-1].to_dict()["contents"]["contents"]
    assert len(carousel) == 12
    rest = "\n".join(texts_of(messages))
    assert "窓口12" in rest and "☎ 0120-13" in rest
    assert validate_messages(as_dicts(messages)) == []


# --- quick replies --------------------------------------------------------------


def test_choices_are_postback_quick_replies_on_the_last_message_only():
    choices = [Choice("児童・生徒", "t=role_child"), Choice("保護者", "t=role_guardian")]
    messages = render(reply(["一", "二"], cards=[SOS], choices=choices))
    assert all(m.quick_reply is None for m in messages[:-1])
    items = messages[-1].to_dict()["quickReply"]["items"]
    assert [i["action"] for i in items] == [
        {"type": "postback", "label": "児童・生徒", "data": "t=role_child", "displayText": "児童・生徒"},
        {"type": "postback", "label": "保護者", "data": "t=role_guardian", "displayText": "保護者"},
    ]


def test_quick_replies_ride_on_the_last_text_when_there_are_no_cards():
    messages = render(reply(["一", "二"], choices=[Choice("メニューに戻る", "t=menu")]))
    assert messages[0].quick_reply is None
    assert messages[1].quick_reply.items[0].action.data == "t=menu"


def test_a_reply_without_choices_has_no_quick_reply():
    messages = render(reply(["一"], cards=[SOS]))
    assert all("quickReply" not in m for m in as_dicts(messages))


def test_at_most_13_quick_replies_with_labels_of_at_most_20():
    choices = [Choice(f"選択肢{i}" + "あ" * 30, f"t=c{i}") for i in range(20)]
    items = render(reply(choices=choices))[-1].quick_reply.items
    assert len(items) == 13
    assert all(len(i.action.label) == 20 and i.action.label.endswith("…") for i in items)
    assert [i.action.data for i in items] == [f"t=c{i}" for i in range(13)]


def test_a_choice_line_would_refuse_is_left_out_not_the_whole_answer():
    choices = [Choice("", "t=a"), Choice("ok", "t=" + "x" * 400), Choice("メニュー", "t=menu")]
    items = render(reply(choices=choices))[-1].quick_reply.items
    assert [i.action.data for i in items] == ["t=menu"]


def test_nothing_to_say_renders_no_message():
    assert render(reply(texts=[], choices=[Choice("メニュー", "t=menu")])) == []


def test_render_is_pure():
    r = reply(["一"] * 8, cards=[SOS, POLICE_CONSULT], choices=[Choice("メニュー", "t=menu")])
    assert as_dicts(render(r)) == as_dicts(render(r))
    assert r.texts == ("一",) * 8


# --- every real answer is valid LINE ----------------------------------------------


def _explore(dialogue, now, first_event, limit=300):
    """Every answer reachable by tapping the buttons the bot shows, from one first event."""
    from dialogs.engine import Event, handle

    session, first = handle(dialogue, None, first_event, now)
    seen = {json.dumps(session.to_dict(), sort_keys=True)}
    queue = [(session, first)]
    replies = [first]
    while queue and len(replies) < limit:
        session, answer = queue.pop(0)
        for choice in answer.choices:
            nxt, r = handle(dialogue, session, Event(kind="postback", data=choice.data), now)
            key = json.dumps(nxt.to_dict(), sort_keys=True)
            replies.append(r)
            if key not in seen:
                seen.add(key)
                queue.append((nxt, r))
    return replies


@pytest.mark.parametrize("lang", ["ja", "ja_easy", "en"])
@pytest.mark.parametrize("at", ["2026-11-25 15:00", "2026-11-25 23:00", "2026-12-30 15:00"])
def test_every_answer_of_the_chart_renders_as_messages_line_accepts(dialogue, lang, at):
    from dialogs.engine import Event

    replies = _explore(dialogue, tokyo(at), Event(kind="follow", lang=lang))
    replies += [
        _explore(dialogue, tokyo(at), Event(kind="text", text=text, lang=lang), limit=20)[0]
        for text in ("もう死にたい", "殺すって言われた", "裸の写真をばらまくと脅されている", "書き込みを消したい")
    ]
    replies += [_explore(dialogue, tokyo(at), Event(kind="media", data="image", lang=lang), limit=1)[0]]
    assert len(replies) > 30
    for r in replies:
        messages = render(r, CardLabels.from_catalog(dialogue.catalogs, r.lang))
        dicts = as_dicts(messages)
        assert 1 <= len(messages) <= 5, r.state
        assert validate_messages(dicts) == [], (r.state, validate_messages(dicts))
        if r.urgent:
            assert messages[0].text == r.texts[0]
        if r.cards:
            alt = messages[-1].to_dict()["altText"]
            for card in r.cards:
                assert card.name in alt
                for phone in card.phones:
                    assert phone.number in alt
        shown = [i.action.data for i in (messages[-1].quick_reply.items if messages[-1].quick_reply else [])]
        assert shown == [c.data for c in r.choices][:13]
