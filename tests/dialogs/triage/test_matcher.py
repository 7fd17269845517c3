"""Crisis triage: normalization, the lexicon's rules, the labelled set, lexicon errors."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dialogs.triage import (
    LEXICON_PATH,
    LexiconError,
    load_lexicon,
    normalize,
    parse_lexicon,
    romaji_kana,
    triage,
    words,
)
from dialogs.triage_report import (
    DEFAULT_SET,
    MAX_FALSE_ALARM_RATE,
    LabelledSetError,
    evaluate,
    load_labelled,
    main,
)

ROOT = Path(__file__).resolve().parents[3]
RANK = {None: 0, "medium": 1, "high": 2, "critical": 3}


@pytest.fixture()
def lexicon_data():
    return yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- normalization


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


# ---------------------------------------------------------------- the labelled set


HELDOUT_SET = ROOT / "tests" / "data" / "triage_heldout.yaml"
#: Sets the lexicon is tuned on and held to (100 % recall, <= 5 % false alarms).
#: triage_heldout and triage_blind3..5 were written blind and scored 62.5 %, 57.0 %, 58.2 %
#: and 70.6 % recall before the lexicon was tuned on them; see their commits.
BLIND3_SET = ROOT / "tests" / "data" / "triage_blind3.yaml"
BLIND4_SET = ROOT / "tests" / "data" / "triage_blind4.yaml"
BLIND5_SET = ROOT / "tests" / "data" / "triage_blind5.yaml"
TUNED_SETS = (DEFAULT_SET, HELDOUT_SET, BLIND3_SET, BLIND4_SET, BLIND5_SET)


def _labelled(label):
    return [
        pytest.param(i, id=f"{path.stem}:{i.text[:30]}")
        for path in TUNED_SETS
        for i in load_labelled(path)
        if i.label == label
    ]


@pytest.mark.parametrize("item", _labelled("crisis"))
def test_every_crisis_message_is_caught_with_its_category_and_severity(item):
    result = triage(item.text)
    assert result.urgent, item.note
    assert item.category in result.categories
    assert RANK[result.severity] >= RANK[item.severity]


@pytest.mark.parametrize("path", TUNED_SETS, ids=lambda p: p.stem)
def test_labelled_set_recall_and_false_alarms(path):
    report = evaluate(path)
    assert len(report.crisis) >= 60 and len(report.benign) >= 85
    assert report.recall == 1.0, [o.item.text for o in report.misses]
    assert report.false_alarm_rate <= MAX_FALSE_ALARM_RATE, [o.item.text for o in report.false_alarms]
    assert report.passed


def test_report_fails_on_a_miss_and_on_too_many_false_alarms(tmp_path, capsys):
    missed = tmp_path / "missed.yaml"
    missed.write_text(
        '- {text: "ふつうの文", label: crisis, category: self_harm, severity: high}\n'
        '- {text: "宿題が多い", label: benign}\n',
        encoding="utf-8",
    )
    assert main(["--set", str(missed)]) == 1
    out = capsys.readouterr().out
    assert "ふつうの文" in out and "not urgent" in out and "FAIL" in out

    alarms = tmp_path / "alarms.yaml"
    alarms.write_text(
        '- {text: "死にたい", label: crisis, category: self_harm, severity: high}\n'
        '- {text: "死にたい", label: benign}\n'
        + "".join(f'- {{text: "宿題{n}", label: benign}}\n' for n in range(10)),
        encoding="utf-8",
    )
    report = evaluate(alarms)
    assert report.recall == 1.0 and len(report.false_alarms) == 1 and not report.passed
    assert main(["--set", str(alarms)]) == 1


def test_a_severity_below_the_label_is_a_miss(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text('- {text: "消えたい", label: crisis, category: self_harm, severity: critical}\n', encoding="utf-8")
    report = evaluate(path)
    assert report.recall == 0.0
    assert report.misses[0].why_missed == "severity medium < critical"


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("[]", "non-empty list"),
        ('- {text: "x", label: maybe}\n', "label must be crisis or benign"),
        ('- {text: "x", label: crisis, category: fear, severity: high}\n', "needs category"),
        ('- {text: "x", label: benign, category: threat}\n', "has no category"),
        ('- {label: benign}\n', "non-empty 'text'"),
    ],
)
def test_malformed_labelled_set_names_the_item(tmp_path, body, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LabelledSetError, match=fragment):
        load_labelled(path)


@pytest.mark.e2e  # starts `python -m bot triage-report`
def test_triage_report_command_prints_the_figures():
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "triage-report"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recall      100.00%" in proc.stdout
    assert "false alarm" in proc.stdout and proc.stdout.rstrip().endswith("PASS")


# ---------------------------------------------------------------- lexicon errors


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


@pytest.mark.e2e  # starts `python -m bot triage-report`
def test_report_command_names_a_bad_file_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "triage-report", "--set", str(tmp_path / "none.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot read the labelled set" in proc.stderr and "Traceback" not in proc.stderr
