"""Issue 11 in the conversation: the first reply fits the danger and the writer,
and nobody is left with only a menu."""

from __future__ import annotations

import pytest

from dialogs.engine import DANGER_NOW, FALLBACK_CHOICES, Event, handle, postback_data
from tests.conftest import tokyo

STAFFED = tokyo("2026-11-25 15:00")
NIGHT = tokyo("2026-11-25 23:00")
SOS = "0120-0-78310"


def first(dialogue, text, at=STAFFED):
    return handle(dialogue, None, Event("text", text=text), at)


@pytest.mark.parametrize("text, category, number", [
    ("ゲームで知り合った大人の人に、親にはないしょで会おうって言われた。泊めてくれるって", "grooming", "110"),
    ("お父さんに毎日なぐられてる。家に帰るのがこわい", "abuse", "189"),
    ("あいつを刺してやりたい。明日ナイフ持っていく", "violence_by_writer", "110"),
])
def test_new_kinds_of_danger_get_their_own_first_reply(dialogue, text, category, number):
    session, reply = first(dialogue, text)
    assert reply.urgent and reply.handoff
    assert SOS in reply.texts[0] and number in reply.texts[0]
    assert session.urgent and reply.reasons[0].split(".")[0] == category


@pytest.mark.parametrize("text", [
    "中2の息子がSNSに「今までありがとう」と書いて連絡が取れません",
    "担任している生徒が、リストカットの跡を見せてきて、もう終わりにしたいと言っています",
    "友だちがインスタに遺書みたいなのを投稿してる、どうしよう",
])
def test_someone_reporting_another_persons_danger_is_told_what_to_do_now(dialogue, text, catalogs):
    _, reply = first(dialogue, text)
    assert reply.urgent
    head = reply.texts[0]
    assert SOS in head and "119" in head
    assert "ひとりにしない" in head or "ひとりに しない" in head
    assert "あなたのことが大切です" not in head and "あなたは悪くありません" not in head


def test_unclear_text_asks_if_they_are_safe_with_the_number_and_few_choices(dialogue):
    _, reply = first(dialogue, "あのー")
    joined = "\n".join(reply.texts)
    assert SOS in joined and "安全" in joined
    assert 2 <= len(reply.choices) <= FALLBACK_CHOICES
    assert reply.choices[0].data == postback_data(DANGER_NOW)
    assert any(c.data == postback_data("menu") for c in reply.choices)


def test_one_tap_on_danger_now_makes_it_urgent(dialogue):
    session, _ = first(dialogue, "あのー")
    session, reply = handle(dialogue, session, Event("postback", data=postback_data(DANGER_NOW)), STAFFED)
    assert reply.urgent and reply.handoff and SOS in reply.texts[0] and session.urgent


@pytest.mark.parametrize("at", [STAFFED, NIGHT])
def test_writing_again_while_waiting_after_a_crisis_is_acknowledged_not_a_menu(dialogue, at):
    session, reply = first(dialogue, "もう死にたい", at)
    assert reply.urgent
    for text in ("まだ待ってる", "学校のグループで悪口を書かれてて", "請求のメールも来た"):
        session, reply = handle(dialogue, session, Event("text", text=text), at)
        assert reply.state == "crisis", text
        assert SOS in reply.texts[0], text
        assert "読みました" in reply.texts[0], text
    # A new danger signal while waiting raises the queued chat, with the same warm word.
    session, reply = handle(dialogue, session, Event("text", text="今から屋上に行く"), at)
    assert reply.urgent and reply.handoff and SOS in reply.texts[0]


def test_a_command_still_works_while_waiting(dialogue):
    session, _ = first(dialogue, "もう死にたい")
    session, reply = handle(dialogue, session, Event("text", text="メニュー"), STAFFED)
    assert reply.state == "menu"


def test_an_uncertain_message_gets_the_safety_question_and_its_answer(dialogue):
    from dataclasses import replace

    text = "インスタに勝手に写真を載せられた、消してほしい"
    p = dialogue.model.read(text).urgency
    unsure = replace(dialogue, model=replace(dialogue.model, thresholds={"urgent": p + 0.01, "uncertain": p - 0.01}))
    session, reply = first(unsure, text)
    assert not reply.urgent
    assert SOS in reply.texts[0] and reply.choices[0].data == postback_data(DANGER_NOW)
    assert session.concern is not None
    assert reply.state in ("delete", "who")


@pytest.mark.parametrize("text, branch", [
    ("知らないサイトから高額な請求が来ました。払わないといけないですか", "bill"),
    ("書き込んだ人を特定して慰謝料を請求したい", "damages"),
    ("ウイルスに感染したって画面が出て消えない", "security"),
    pytest.param("裏サイトで薬物が売られているのを見つけました", "report", marks=pytest.mark.xfail(
        strict=True, reason="known false alarm of the frozen model (裏 is learned from 裏垢 sextortion); "
                            "docs/triage.md, known limits")),
    ("薬物を売ってる投稿を見つけた", "report"),
])
def test_free_text_goes_to_its_branch_without_a_tie_on_shared_words(dialogue, text, branch):
    session, reply = first(dialogue, text)
    assert not reply.urgent
    assert reply.state == branch or session.pending == branch


def test_every_first_reply_carries_the_24_hour_line(dialogue):
    """A first message read as calm may still be a child in danger the classifier
    has not learned to see: the number is in the first reply whatever it was."""
    for text in ("インスタの写真を消したい", "こんにちは", "請求のメールが来た"):
        _, reply = first(dialogue, text)
        assert any(SOS in t for t in reply.texts), text
    # ...but only once, and not again on the next message.
    session, reply = first(dialogue, "こんにちは")
    assert sum(SOS in t for t in reply.texts) == 1
    _, reply = handle(dialogue, session, Event("text", text="インスタの写真を消したい"), STAFFED)
    assert not any(SOS in t for t in reply.texts)


def test_an_unsure_reading_of_an_unclear_message_asks_once(dialogue):
    from dataclasses import replace

    p = dialogue.model.read("あのー").urgency
    unsure = replace(dialogue, model=replace(dialogue.model, thresholds={"urgent": p + 0.01, "uncertain": p - 0.01}))
    _, reply = first(unsure, "あのー")
    check = [t for t in reply.texts if "安全ですか" in t]
    assert len(check) == 1
    assert [c.data for c in reply.choices].count(postback_data(DANGER_NOW)) == 1


# -- who is writing, read from the first message (issue 11 routing, issue 12) --

def after_follow(dialogue, text, at=STAFFED):
    greeted, _ = handle(dialogue, None, Event("follow"), at)
    return handle(dialogue, greeted, Event("text", text=text), at)


@pytest.mark.parametrize("text, role, state", [
    ("生徒の悪口が書かれたブログを見つけました。削除依頼の出し方を知りたいです", "teacher", "delete"),
    ("小6の娘のLINEが乗っ取られたみたいです。どうすればいいですか", "guardian", "security"),
    ("クラスのグループLINEで悪口書かれてる。消してほしい", "child", "delete"),
])
def test_the_first_message_is_answered_for_the_writer_its_wording_shows(dialogue, text, role, state):
    # 生徒 and 小6 are also a pupil's words: a teacher or a parent is not asked
    # for their school, and what they asked is answered in the same reply.
    session, reply = after_follow(dialogue, text)
    assert (session.role, reply.state) == (role, state)
    assert session.level is None


def test_a_child_who_does_not_say_their_school_is_answered_in_easy_japanese_with_an_adult(dialogue, catalogs):
    session, reply = after_follow(dialogue, "クラスのグループLINEで悪口書かれてる。消してほしい")
    assert reply.lang == "ja_easy"
    assert catalogs.text("ja_easy", "delete.child_with_adult") in reply.texts


@pytest.mark.parametrize("text", ["あのー", "hello", "誹謗中傷の書き込みの削除方法を教えてください"])
def test_wording_that_does_not_show_its_writer_sets_no_role(dialogue, text):
    session, _ = after_follow(dialogue, text)
    assert session.role is None


def test_a_typed_introduction_takes_the_role_and_level_and_asks_what_is_wrong(dialogue):
    session, reply = after_follow(dialogue, "中学生です")
    assert (session.role, session.level, reply.state) == ("child", "junior_high", "menu")
    assert session.pending is None, "the classifier's guess at 「中学生です」 is not a request"


def test_a_story_that_names_a_school_is_read_in_full_not_as_an_answer(dialogue):
    # After the greeting asks who is writing, only a short typed answer is held
    # to the stricter "only if sure" reading; this is a first message like any other.
    from dataclasses import replace

    text = "中学生です。最近ネットで知り合った人とずっと話してて、なんか変な感じがする"
    p = dialogue.model.read(text).urgency
    assert p < 0.9
    touchy = replace(dialogue, model=replace(dialogue.model, thresholds={"urgent": p - 0.001, "uncertain": p - 0.01}))
    _, reply = after_follow(touchy, text)
    assert reply.urgent


def test_the_reply_to_the_first_message_after_the_greeting_carries_the_24_hour_number(dialogue):
    # The greeting (follow) asks who is writing; the first message is the first
    # chance to hear a child the classifier did not recognise.
    _, reply = after_follow(dialogue, "インスタの鍵垢に知らない人からフォロリク来る")
    assert not reply.urgent and SOS in "\n".join(reply.texts)
