"""dialogs.assess: the classifier OR the lexicon, with an uncertain middle."""

from dataclasses import replace

import pytest

from dialogs.assess import assess
from dialogs.nlu.model import default_model
from dialogs.triage import default_lexicon


@pytest.fixture(scope="module")
def model():
    return default_model()


def test_the_lexicon_is_the_floor_even_where_the_model_is_sure_of_calm(model):
    calm_model = replace(model, thresholds={"urgent": 1.1, "uncertain": 1.05})
    a = assess("死にたい", default_lexicon(), calm_model)
    assert a.level == "uncertain" and a.category == "self_harm"  # never calm: the number and one tap


def test_the_lexicon_makes_an_uncertain_reading_urgent(model):
    p = model.read("死にたい").urgency
    unsure = replace(model, thresholds={"urgent": p + 0.01, "uncertain": p - 0.01})
    a = assess("死にたい", default_lexicon(), unsure)
    assert a.urgent and "self_harm" in a.triage.categories and "self_harm.wish_to_die" in a.triage.reasons


def test_the_model_catches_what_no_word_list_names(model):
    a = assess("ゲームで知り合った大人の人が、親にはないしょで会おうって。泊めてくれるって", default_lexicon(), model)
    assert a.urgent and a.category == "grooming"
    assert a.triage.reasons[0] == "grooming.nlu"


def test_an_uncertain_message_is_neither_urgent_nor_calm(model):
    p = model.read("なんかもう疲れた").urgency
    th = {"urgent": p + 0.01, "uncertain": p - 0.01}
    a = assess("なんかもう疲れた", default_lexicon(), replace(model, thresholds=th))
    assert a.level == "uncertain" and not a.triage.urgent and a.category


def test_someone_elses_danger_is_read_as_reported(model):
    a = assess("生徒がSNSに遺書のような投稿をしています。どうしたらいいですか", default_lexicon(), model, "teacher")
    assert a.urgent and a.about_other


def test_without_a_model_the_lexicon_alone_decides():
    assert assess("死にたい", default_lexicon(), None).urgent
    assert assess("こんにちは", default_lexicon(), None).level == "calm"


@pytest.mark.parametrize("text", ["リスカしちゃった笑", "薬いっぱい飲んだｗ", "cut myself again lol"])
def test_laughter_never_turns_an_act_already_done_into_a_question(model, text):
    calm_model = replace(model, thresholds={"urgent": 1.1, "uncertain": 1.05})
    assert assess(text, default_lexicon(), calm_model).urgent



def test_a_word_the_classifier_reads_as_barely_worrying_gets_the_question_not_the_alarm(model):
    from dialogs.assess import LEXICON_CONFIRMS

    text = "弟がFPSやりながら「ぶっ殺す」とか叫んでてうるさい"
    assert default_lexicon().triage(text).urgent
    p = model.read(text).urgency
    assert p < LEXICON_CONFIRMS
    unsure = replace(model, thresholds={"urgent": 1.1, "uncertain": p - 0.001})
    a = assess(text, default_lexicon(), unsure)
    assert a.level == "uncertain" and not a.triage.urgent
