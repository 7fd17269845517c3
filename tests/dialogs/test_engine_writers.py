"""What the bot says fits the person writing (issue 12): the language they
write in, a child's short menu, the reassurance of seed 003, seed 004's
procedure for each writer, local windows only where they apply, and hours
that are only usual said as usual."""

from __future__ import annotations

from tests.conftest import tokyo
from tests.dialogs.test_engine import STAFFED, Chat, answer_texts

NIGHT_SAT = tokyo("2026-11-28 21:00")  # Saturday night: #9110 usually closed until Monday


class TestWrittenLanguage:
    def test_english_text_on_a_japanese_profile_is_answered_in_english(self, dialogue):
        out = Chat(dialogue, STAFFED, lang="ja").say(
            "Someone posted my photo on Instagram without asking me. How can I get it removed?")
        assert out["lang"] == "en"
        text = "\n".join(out["texts"])
        assert "bot" in text.lower() and "0120-0-78310" in text
        assert "You wrote in English" in text
        assert "ことば / Language" in out["options"]
        assert not any("うまく" in t or "ごめん" in t for t in out["texts"])

    def test_the_language_offer_is_made_once(self, dialogue):
        chat = Chat(dialogue, STAFFED, lang="ja")
        chat.say("my friend keeps posting mean things about me")
        out = chat.say("what should I do")
        assert out["lang"] == "en"
        assert not any("You wrote in English" in t for t in out["texts"])

    def test_english_crisis_still_puts_the_number_first(self, dialogue):
        out = Chat(dialogue, STAFFED, lang="ja").say("I don't want to live anymore")
        assert out["urgent"] and out["lang"] == "en"
        assert "0120-0-78310" in out["texts"][0]

    def test_japanese_text_on_an_english_phone_is_answered_in_japanese(self, dialogue):
        out = Chat(dialogue, STAFFED, lang="en").say("クラスのLINEグループで悪口を書かれています")
        assert out["lang"] in ("ja", "ja_easy")
        assert any("ことば / Language" == o for o in out["options"])

    def test_japanese_on_a_phone_set_to_easy_japanese_stays_easy_and_unremarked(self, dialogue):
        out = Chat(dialogue, STAFFED, lang="ja_easy").say("ともだちに わるぐち かかれた")
        assert out["lang"] == "ja_easy"
        assert "ことば / Language" not in out["options"]

    def test_a_chosen_language_wins_over_the_written_one(self, dialogue):
        chat = Chat(dialogue, STAFFED, lang="ja")
        chat.follow()
        chat.post("language")
        chat.post("lang_ja")
        assert chat.say("my account was hacked")["lang"] == "ja"

    def test_english_cards_say_the_service_answers_in_japanese(self, dialogue):
        out = Chat(dialogue, STAFFED, lang="en").say("I want to die")
        assert all("Answers in Japanese." in card for card in out["texts"][-len(out["hotlines"]):])


class TestChildMenu:
    def child_menu(self, dialogue):
        chat = Chat(dialogue, STAFFED)
        chat.follow()
        chat.tap("児童・生徒")
        return chat, chat.post("level_junior_high")

    def test_a_child_sees_at_most_six_buttons_the_rest_behind_hokanokoto(self, dialogue):
        chat, menu = self.child_menu(dialogue)
        assert menu["state"] == "menu" and len(menu["options"]) <= 6
        assert menu["options"][-1] == "ほかのこと"
        more = chat.tap("ほかのこと")
        assert more["state"] == "menu_more"
        assert len(more["options"]) >= 7  # mail, report, bill, security, damages, role, language, back
        assert chat.post("bill")["state"] in ("bill", "who")

    def test_typing_still_reaches_a_branch_not_on_the_short_menu(self, dialogue):
        chat, _ = self.child_menu(dialogue)
        assert chat.say("ウイルスに感染したかもしれない")["state"] == "security"

    def test_adults_keep_the_whole_menu(self, dialogue):
        chat = Chat(dialogue, STAFFED)
        chat.follow()
        menu = chat.tap("保護者")
        assert len(menu["options"]) == 12 and "ほかのこと" not in menu["options"]


class TestNotYourFault:
    def test_a_child_who_types_first_reads_it(self, dialogue):
        out = Chat(dialogue, STAFFED).say("クラスのグループLINEでわたしだけわるぐちかかれてる")
        assert any("せいではありません" in t.replace(" ", "") for t in out["texts"]), out["texts"]

    def test_an_unknown_writer_reads_it_when_harm_is_the_subject(self, dialogue):
        chat = Chat(dialogue, STAFFED)
        chat.follow()
        chat.tap("答えずに進む")
        out = chat.post("talk")
        assert any("あなたのせいではありません" in t for t in out["texts"])

    def test_a_child_with_harassing_mail_reads_it(self, dialogue):
        assert "あなたのせいではありません" in answer_texts(dialogue, "high_school", "mail")

    def test_adults_are_not_told_it_is_their_fault_or_not(self, dialogue):
        assert "あなたのせいでは" not in answer_texts(dialogue, "guardian", "talk")


class TestSeed004ForEachWriter:
    def test_a_teacher_is_told_how_a_deletion_request_is_made(self, dialogue):
        text = answer_texts(dialogue, "teacher", "delete")
        assert "保護者または学校から" in text and "URLと理由" in text and "広がる" in text

    def test_a_guardian_with_harassing_mail_is_told_police_or_school(self, dialogue):
        text = answer_texts(dialogue, "guardian", "mail")
        assert "警察や学校" in text

    def test_the_desk_itself_reports_illegal_content_and_a_school_site(self, dialogue):
        for role in ("guardian", "teacher"):
            text = answer_texts(dialogue, role, "report")
            assert "相談員がサイトを確かめて" in text and "学校裏サイト" in text and "相談窓口から教育委員会" in text

    def test_the_greeting_does_not_promise_teachers_anonymity(self, dialogue):
        text = "\n".join(Chat(dialogue, STAFFED).follow()["texts"])
        assert "教職員の方には、学校名とお名前をうかがいます" in text


class TestLocalWindows:
    def talk(self, dialogue, first_text=None):
        chat = Chat(dialogue, STAFFED)
        chat.follow()
        chat.tap("保護者")
        if first_text:
            chat.say(first_text)
        return chat.post("talk")

    def test_a_city_window_is_not_shown_to_everyone(self, dialogue):
        assert "kawanishi_ombudsperson" not in self.talk(dialogue)["hotlines"]

    def test_a_city_window_is_shown_to_someone_who_names_the_city(self, dialogue):
        out = self.talk(dialogue, "川西市に住んでいます。子どものことで相談したいです")
        assert "kawanishi_ombudsperson" in out["hotlines"]


class TestUsualHours:
    def test_9110_is_never_closed_as_a_certainty(self, dialogue):
        chat = Chat(dialogue, NIGHT_SAT)
        chat.follow()
        chat.tap("保護者")
        out = chat.post("bill")
        card = next(t for t in out["texts"] if "#9110" in t)
        assert "ふだんは" in card and "都道府県によって異なります" in card
        assert "受付時間外です" not in card
