"""dialogs.triage.normalise: the ways children write a word meet in one form,
the net spellings of 死 only where a word follows, romaji and emoji read as words."""

from __future__ import annotations

import pytest

from dialogs.triage import normalize, romaji_kana, triage, words


@pytest.mark.parametrize(
    "text, expected",
    [
        ("死 に た い", "死にたい"),
        ("ｼﾆﾀｲ", "しにたい"),
        ("シニタイ", "しにたい"),
        ("しにたーい", "しにたい"),
        ("死にた～い…", "死にたい"),
        ("ＯＤ　した", "odした"),
        ("もうやだ😭😭死にたい", "もうやだ死にたい"),
        ("タヒにたい", "死にたい"),
        ("ﾀﾋにたい", "死にたい"),
        ("氏にたい", "死にたい"),
        ("『氏ね』", "死ね"),
        ("4にたい", "死にたい"),
        ("殺されるｗ😂", "殺されるw笑"),
    ],
)
def test_normalize_folds_the_ways_children_write_a_word(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("またひとり", "またひとり"),
        ("マタヒトリ", "またひとり"),
        ("2024ねん", "2024ねん"),
        ("小4ねんせい", "小4ねんせい"),
        ("田中氏にお願い", "田中氏にお願い"),
    ],
)
def test_net_spellings_need_the_word_after_them(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("shinitai", "self_harm.wish_to_die"),
        ("korosu tte DM kita", "threat.kill"),
        ("🔪🩸 また切っちゃった", "self_harm.cutting"),
    ],
)
def test_romaji_and_emoji_are_read_as_words(text, reason):
    assert reason in triage(text).reasons


def test_romaji_reading_does_not_turn_english_into_alarms():
    for text in ["my phone died", "killed it at the game", "I want to diet", "that was oddly satisfying"]:
        assert not triage(text).urgent, text
    assert romaji_kana(" i want to die ") != ""  # English is read too, and must simply not match
    assert romaji_kana(" ") == ""


def test_words_keeps_latin_word_boundaries():
    assert words("I don't want to DIE!!") == " i dont want to die "
    assert words("死にたい").strip() == ""
