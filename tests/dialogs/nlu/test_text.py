"""dialogs.nlu.text: the ways one word is typed meet in one form."""

import pytest

from dialogs.nlu.text import analyse, fold, prepare


@pytest.mark.parametrize("typed", [
    "死にたい", "しにたい", "シニタイ", "ｼﾆﾀｲ", "し に た い", "しにたぁい", "死にた～い",
    "ﾀﾋにたい", "タヒにたい", "○にたい", "〇にたい", "死にたいいいい",
])
def test_spellings_of_one_word_share_a_reading(typed):
    assert "しにたい" in analyse(typed).reading


@pytest.mark.parametrize("typed, word", [
    ("自〇したい", "自殺"), ("自＊", "自殺"), ("殺＿ぞ", "殺すぞ"), ("○す", "殺す"),
])
def test_masks_are_read_as_the_word_they_hide(typed, word):
    assert word in prepare(typed)


def test_a_mask_that_hides_no_known_word_stays():
    assert "○" in prepare("○○小学校の運動会")


@pytest.mark.parametrize("text, kept", [
    ("田中氏に聞いた", "氏"), ("2024年", "2024"), ("4ねんせい", "4"), ("市立図書館", "市"),
])
def test_net_spellings_need_the_kana_after_them(text, kept):
    assert kept in prepare(text)


def test_conjugations_meet_on_the_dictionary_form():
    assert "殺す" in analyse("殺されるかも").lemmas
    assert "叩く" in analyse("たたかれた").lemmas


def test_english_is_lemmatised_and_spaced_letters_joined():
    a = analyse("I keep k i l l i n g myself in my head, cutting again")
    assert "kill" in a.english or "killing" in a.english
    assert "cut" in a.english or "cutting" in a.english
    assert analyse("took too many pills").english[-1] == "pill"


def test_a_small_vowel_that_spells_a_sound_is_kept():
    assert fold("ファンです") == "ふぁんです"
    assert fold("しにたぁい") == "しにたい"


def test_empty_and_symbol_only_messages():
    assert analyse("").surface == ""
    assert analyse("！！！").lemmas == ()


def test_messages_read_at_once_by_many_threads_all_come_through():
    # A worker reads the messages of its partitions on one thread each; one Sudachi
    # tokenizer shared between them fails ("already borrowed") and the event waits
    # a retry, or after five ends in the dead letters.
    import threading

    texts = ["もう死にたい", "グループで悪口を言われてる", "知らない請求がきた", "写真を勝手に載せられた"] * 50
    expected = {t: analyse(t) for t in set(texts)}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        try:
            for t in texts:
                assert analyse(t) == expected[t]
        except BaseException as exc:  # noqa: BLE001 - the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
