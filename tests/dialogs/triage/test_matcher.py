"""dialogs.triage.matcher: the verdict on a message (severity, categories,
idioms, laughter, modifiers, a life at stake), and every entry and modifier of
the shipped lexicon on its own examples."""

from __future__ import annotations

import pytest
import yaml

from dialogs.triage import LEXICON_PATH, triage

RANK = {None: 0, "medium": 1, "high": 2, "critical": 3}


# ---------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    "text, category, severity",
    [
        ("死にたい", "self_harm", "high"),
        ("消えたい", "self_harm", "medium"),
        ("屋上にいる。死にたい", "self_harm", "critical"),
        ("今夜死のうと思う", "self_harm", "critical"),
        ("I want to kill myself", "self_harm", "high"),
        ("殺すって言われた", "threat", "high"),
        ("刃物持ってくるって言われた", "threat", "critical"),
        ("写真ばらまくぞ、金払えって言われた", "extortion", "high"),
        ("裸の写真送れって脅された", "extortion", "critical"),
    ],
)
def test_verdict(text, category, severity):
    result = triage(text)
    assert result.urgent
    assert category in result.categories
    assert result.severity == severity
    assert result.reasons, "an urgent verdict names the rules that fired"


@pytest.mark.parametrize(
    "text", ["ゲームで死んだｗ", "死ぬほど笑った", "悪口を書かれた", "写真晒された。消して", "", "   "]
)
def test_calm(text):
    result = triage(text)
    assert not result.urgent
    assert (result.severity, result.categories, result.reasons, result.life_at_stake) == (None, (), (), False)


def test_idiom_is_cut_but_the_real_signal_beside_it_still_fires():
    assert not triage("死ぬほどつらい").urgent
    result = triage("死ぬほどつらい、死にたい")
    assert result.urgent and result.severity == "high"


def test_laughter_softens_hyperbole_but_never_an_explicit_death_wish():
    assert not triage("親に殺されるｗ").urgent
    assert triage("親に殺される").urgent
    assert triage("死にたいｗ").urgent


def test_modifier_raises_to_critical_only_for_its_categories():
    assert triage("今から塾").urgent is False
    plain, timed = triage("殺すって言われた"), triage("今から殺すって言われた")
    assert (plain.severity, timed.severity) == ("high", "critical")
    assert "modifier.time" in timed.reasons
    # modifier.place applies to self_harm only: a threat "on the roof" is not raised by it
    assert "modifier.place" not in triage("屋上で殺すって言われた").reasons


@pytest.mark.parametrize(
    "text, life",
    [
        ("死にたい", True),  # self_harm high
        ("消えたい", False),  # passive, medium
        ("殺すって言われた", True),  # threat high
        ("脅されてる", False),  # vague threat, medium
        ("動画晒すって言われた", False),  # extortion high: police, but no 119
        ("裸の写真送れって脅された", True),  # critical
    ],
)
def test_life_at_stake(text, life):
    assert triage(text).life_at_stake is life


def test_several_categories_are_all_named():
    result = triage("裸の写真送れって脅された")
    assert set(result.categories) == {"threat", "extortion"}
    assert result.categories == tuple(c for c in ("self_harm", "threat", "extortion") if c in result.categories)


# ---------------------------------------------------------------- the shipped lexicon


def _entries(kind):
    data = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))
    return [pytest.param(e, id=e["id"]) for e in data[kind]]


@pytest.mark.parametrize("entry", _entries("entries"))
def test_each_entry_catches_its_examples_and_not_its_not_examples(entry):
    for text in entry["examples"]:
        result = triage(text)
        assert entry["id"] in result.reasons, text
        assert RANK[result.severity] >= RANK[entry["severity"]], text
        assert entry["category"] in result.categories, text
    for text in entry.get("not_examples", []):
        assert entry["id"] not in triage(text).reasons, text


@pytest.mark.parametrize("modifier", _entries("modifiers"))
def test_each_modifier_raises_its_examples(modifier):
    for text in modifier["examples"]:
        result = triage(text)
        assert modifier["id"] in result.reasons and result.severity == "critical", text
