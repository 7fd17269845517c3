"""dialogs.language: the language a message is written in, from its script."""

from __future__ import annotations

import pytest

from dialogs.language import written_language


@pytest.mark.parametrize("text", [
    "Someone posted my photo on Instagram without asking me. How can I get it removed?",
    "I want to die",
    "my mom hits me",
    "help",
    "Hello",
    "ｈｅｌｐ ｍｅ",  # full-width letters from a Japanese keyboard
    "im scared",
    "안녕하세요 도와주세요",  # another script: answered in English, the language choice offered
    "alguém postou minha foto",  # Portuguese: not Japanese, so English and the choice
])
def test_not_japanese_is_answered_in_english(text):
    assert written_language(text) == "en"


@pytest.mark.parametrize("text", [
    "もう死にたい",
    "殺害予告",  # kanji alone
    "URLを踏んだ",
    "ｲﾝｽﾀ乗っ取られた",  # half-width katakana
    "mou shinitai",  # romanised Japanese is Japanese
    "tasukete kudasai",
    "gakkou ikitakunai",
])
def test_japanese_in_any_script_is_japanese(text):
    assert written_language(text) == "ja"


@pytest.mark.parametrize("text", ["ok", "OK", "LINE", "1234", "https://example.com/a", "w", "", "👍"])
def test_what_shows_no_language_keeps_the_conversations(text):
    assert written_language(text) is None
