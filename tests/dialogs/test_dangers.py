"""resources/triage/dangers.yaml: the kinds of danger as data, checked at load."""

from __future__ import annotations

import copy

import pytest
import yaml

from dialogs.dangers import CATEGORY_ORDER, DANGERS_PATH, DangersError, parse_dangers
from dialogs.nlu.corpus import URGENT_CATEGORIES


@pytest.fixture
def data():
    return yaml.safe_load(DANGERS_PATH.read_text(encoding="utf-8"))


def test_the_shipped_dangers_cover_every_classifier_category(data):
    dangers = parse_dangers(data, URGENT_CATEGORIES)
    assert tuple(dangers) == CATEGORY_ORDER
    assert {d.model for d in dangers.values()} == set(URGENT_CATEGORIES)
    assert dangers["abuse"].cards[0] == "child_abuse_189"
    assert dangers["self_harm"].cards_other[0] == "ambulance_119"
    assert all("sos_dial" in (*d.cards, *d.cards_other) for d in dangers.values())


@pytest.mark.parametrize("change, message", [
    (lambda d: d["dangers"][0].update(severity="grave"), "dangers.schema.json at dangers/0/severity"),
    (lambda d: d["dangers"].pop(), "must be exactly"),
    (lambda d: d["dangers"][1].update(model="bullying"), "danger 'threat': model category 'bullying'"),
    (lambda d: d["dangers"][1].update(model="suicide"), "have no danger"),
])
def test_a_broken_entry_is_refused_naming_it(data, change, message):
    broken = copy.deepcopy(data)
    change(broken)
    with pytest.raises(DangersError, match=message):
        parse_dangers(broken, URGENT_CATEGORIES)


def test_a_card_missing_from_the_directory_stops_loading(catalogs, tmp_path, monkeypatch):
    from dialogs import engine

    text = DANGERS_PATH.read_text(encoding="utf-8").replace("child_abuse_189", "no_such_line", 1)
    broken = tmp_path / "dangers.yaml"
    broken.write_text(text, encoding="utf-8")
    real = engine.load_dangers
    monkeypatch.setattr(engine, "load_dangers", lambda cats: real(cats, broken))
    with pytest.raises(ValueError, match="no_such_line"):
        engine.Dialogue.load("hyogo", catalogs=catalogs, model=False)
