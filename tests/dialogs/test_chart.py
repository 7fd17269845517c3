"""Chart validation: the real chart passes; each kind of breakage is caught
at load, with the offending state named in the exception and its message."""

from __future__ import annotations

import copy

import pytest
import yaml

from dialogs.chart import (
    CHART_PATH,
    ChartSchemaError,
    DeadEndError,
    DuplicateOptionError,
    LabelTooLongError,
    MissingMessageError,
    UnknownHotlineError,
    UnknownStateError,
    UnreachableStateError,
    load_chart,
    parse_chart,
    validate_chart,
)
from dialogs.directory import load_directory
from dialogs.engine import ENGINE_KEYS
from dialogs.i18n import Catalogs


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CHART_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hotline_ids():
    return set(load_directory("hyogo").ids)


def check(data, hotline_ids, catalogs):
    validate_chart(parse_chart(data), hotline_ids, catalogs, extra_keys=ENGINE_KEYS)


def test_the_shipped_chart_is_valid(hotline_ids, catalogs):
    validate_chart(load_chart(), hotline_ids, catalogs, extra_keys=ENGINE_KEYS)


def test_every_branch_of_the_seed_chart_is_on_the_menu(raw):
    menu = {o["id"] for o in raw["states"]["menu"]["options"]}
    assert {"talk", "advice", "delete", "damages", "danger", "report", "mail", "bill", "security", "human"} <= menu


def test_unreachable_state_is_named(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["orphan"] = copy.deepcopy(data["states"]["security"])
    with pytest.raises(UnreachableStateError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "orphan"
    assert "'orphan'" in str(err.value)


def test_state_without_way_back_to_menu_is_a_dead_end(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["bill"]["options"] = [o for o in data["states"]["bill"]["options"] if o["to"] != "menu"]
    with pytest.raises(DeadEndError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "bill"
    assert "menu" in str(err.value)


def test_state_without_a_person_is_a_dead_end(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["mail"]["options"] = [o for o in data["states"]["mail"]["options"] if o["to"] != "human"]
    with pytest.raises(DeadEndError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "mail"
    assert "person" in str(err.value)


def test_unknown_hotline_is_named_with_its_state(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["damages"]["hotlines"].append("no_such_window")
    with pytest.raises(UnknownHotlineError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "damages"
    assert "no_such_window" in str(err.value)


def test_key_missing_in_one_language_is_named(raw, hotline_ids, catalogs):
    # A catalog set where English lacks one key the chart uses.
    keys = dict(catalogs.keys)
    keys["en"] = keys["en"] - {"security.ipa"}
    partial = Catalogs(translations=catalogs.translations, keys=keys)
    with pytest.raises(MissingMessageError) as err:
        check(copy.deepcopy(raw), hotline_ids, partial)
    assert err.value.state == "security"
    assert "'security.ipa'" in str(err.value) and "'en'" in str(err.value)


def test_unknown_key_in_chart_is_named(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["talk"]["texts"].append("talk.no_such_message")
    with pytest.raises(MissingMessageError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "talk"


def test_engine_keys_are_checked_too(raw, hotline_ids, catalogs):
    keys = dict(catalogs.keys)
    keys["ja_easy"] = keys["ja_easy"] - {"crisis.self_harm"}
    with pytest.raises(MissingMessageError, match="crisis.self_harm"):
        check(copy.deepcopy(raw), hotline_ids, Catalogs(catalogs.translations, keys))


def test_option_to_unknown_state(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["menu"]["options"][0]["to"] = "nowhere"
    with pytest.raises(UnknownStateError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "menu" and "nowhere" in str(err.value)


def test_duplicate_option_id(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    data["states"]["bill"]["options"].append(dict(data["states"]["bill"]["options"][0]))
    with pytest.raises(DuplicateOptionError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "bill"


def test_schema_violation_names_the_state(raw):
    data = copy.deepcopy(raw)
    data["states"]["report"]["kind"] = "monologue"
    with pytest.raises(ChartSchemaError) as err:
        parse_chart(data)
    assert err.value.state == "report"
    assert "states/report/kind" in str(err.value)


def test_more_than_13_options_is_refused_by_the_schema(raw):
    data = copy.deepcopy(raw)
    extra = [{"id": f"x{i}", "label": "option.menu", "to": "menu"} for i in range(2)]
    data["states"]["menu"]["options"] += extra
    with pytest.raises(ChartSchemaError) as err:
        parse_chart(data)
    assert err.value.state == "menu"


def test_label_too_long_for_line(raw, hotline_ids, catalogs):
    data = copy.deepcopy(raw)
    # Point an option at a long sentence: fine as text, not as a button label.
    data["states"]["bill"]["options"][0]["label"] = "greet.bot_disclosure"
    with pytest.raises(LabelTooLongError) as err:
        check(data, hotline_ids, catalogs)
    assert err.value.state == "bill"


def test_broken_chart_fails_start_up(tmp_path, raw, catalogs):
    from dialogs.engine import Dialogue

    data = copy.deepcopy(raw)
    data["states"]["orphan"] = copy.deepcopy(data["states"]["security"])
    path = tmp_path / "chart.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UnreachableStateError) as err:
        Dialogue.load("hyogo", chart_path=path, catalogs=catalogs)
    assert str(path) in str(err.value)
