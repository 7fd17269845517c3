"""dialogs.triage.loader: the shipped lexicon loads; a broken one is refused
at load, naming the entry (schema, ids, patterns, its own examples), and a
lexicon file can be given instead."""

from __future__ import annotations

import copy

import pytest
import yaml

from dialogs.triage import LEXICON_PATH, LexiconError, load_lexicon, parse_lexicon, triage


@pytest.fixture()
def lexicon_data():
    return yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))


def _first(data, entry_id):
    return next(e for e in data["entries"] + data["modifiers"] if e["id"] == entry_id)


def test_shipped_lexicon_loads():
    lexicon = load_lexicon()
    assert len(lexicon.entries) >= 20 and lexicon.modifiers and lexicon.idioms


def test_schema_error_names_the_entry(lexicon_data):
    del _first(lexicon_data, "threat.kill")["examples"]
    with pytest.raises(LexiconError, match="threat.kill") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "threat.kill"


def test_both_any_and_all_is_refused(lexicon_data):
    _first(lexicon_data, "threat.ambush")["all"] = [["a"], ["b"]]
    with pytest.raises(LexiconError) as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "threat.ambush"


def test_unknown_category_is_refused(lexicon_data):
    _first(lexicon_data, "threat.ambush")["category"] = "sadness"
    with pytest.raises(LexiconError, match="category"):
        parse_lexicon(lexicon_data)


def test_duplicate_id(lexicon_data):
    lexicon_data["entries"].append(copy.deepcopy(_first(lexicon_data, "threat.ambush")))
    with pytest.raises(LexiconError, match="used twice") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "threat.ambush"


def test_entry_that_stops_catching_its_example(lexicon_data):
    _first(lexicon_data, "self_harm.will")["any"] = ["遺言状"]
    with pytest.raises(LexiconError, match="does not catch its own example") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "self_harm.will"


def test_entry_that_fires_on_its_not_example(lexicon_data):
    _first(lexicon_data, "threat.kill")["not_examples"].append("殺すって言われた")
    with pytest.raises(LexiconError, match="fires on its not-example") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "threat.kill"


def test_modifier_that_does_not_raise(lexicon_data):
    _first(lexicon_data, "modifier.place")["examples"].append("屋上で写真")
    with pytest.raises(LexiconError, match="to critical") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "modifier.place"


def test_bad_regex_and_empty_pattern(lexicon_data):
    data = copy.deepcopy(lexicon_data)
    _first(data, "threat.ambush")["any"].append("re:(unclosed")
    with pytest.raises(LexiconError, match="bad pattern") as info:
        parse_lexicon(data)
    assert info.value.entry == "threat.ambush"
    _first(lexicon_data, "threat.ambush")["any"].append("ー〜！")
    with pytest.raises(LexiconError, match="empty once normalized"):
        parse_lexicon(lexicon_data)


def test_idiom_that_hides_nothing(lexicon_data):
    lexicon_data["idiom_examples"].append("死にたい")
    with pytest.raises(LexiconError, match="idiom example") as info:
        parse_lexicon(lexicon_data)
    assert info.value.entry == "idioms"


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(LexiconError, match="cannot read"):
        load_lexicon(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries: [\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="not valid YAML"):
        load_lexicon(bad)


def test_a_lexicon_file_can_be_given(tmp_path, lexicon_data):
    lexicon_data["entries"] = [e for e in lexicon_data["entries"] if e["category"] != "threat"]
    lexicon_data["modifiers"] = []
    path = tmp_path / "lexicon.yaml"
    path.write_text(yaml.safe_dump(lexicon_data, allow_unicode=True), encoding="utf-8")
    smaller = load_lexicon(path)
    assert not triage("殺すって言われた", smaller).urgent
    assert triage("殺すって言われた").urgent
